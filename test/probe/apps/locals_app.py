# An object held only by two local variables of a running function.
# argv: OUTDIR. Waits (deadline 20 s) until a referrers record for it is out.
import os
import sys
import time


class Obj(object):
    pass


def seen(outdir):
    for n in os.listdir(outdir):
        f = open(os.path.join(outdir, n))
        try:
            if f.read().find('"type":"__main__.Obj"') >= 0:
                return True
        finally:
            f.close()
    return False


def main():
    mine = Obj()
    also = mine
    deadline = time.time() + 20
    while not seen(sys.argv[1]):
        if time.time() > deadline:
            sys.exit(3)
        time.sleep(0.02)


main()
