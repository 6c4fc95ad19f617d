# refscope_follow.py SEGMENT_DIR DONE_FILE [FIRST_SEGMENT OFFSET]
#
# Streams the probe's segment files to stdout while a remote run goes on, for the
# host's live view and so that a dropped connection keeps what was already seen.
# Whole lines only. Before the lines of each segment it writes one header line
# "#seg-000002.jsonl OFFSET" (records never start with '#'). It ends when DONE_FILE
# exists and everything has been sent. Python 2.5 to 3.13, standard library only.
import os
import sys
import time

POLL = 0.2


def out(data):
    while data:
        n = os.write(1, data)
        data = data[n:]


def text(s):
    if sys.version_info[0] >= 3:
        return s.encode('ascii')
    return s


def segments(d):
    try:
        names = os.listdir(d)
    except OSError:
        return []
    names = [n for n in names if n.startswith('seg-') and n.endswith('.jsonl')]
    names.sort()
    return names


def main(argv):
    if len(argv) < 3:
        sys.stderr.write('usage: refscope_follow.py SEGMENT_DIR DONE_FILE [FIRST_SEGMENT OFFSET]\n')
        return 2
    d = argv[1]
    done = argv[2]
    current = None
    offset = 0
    if len(argv) >= 5:
        current = argv[3]
        offset = int(argv[4])
    announced = None
    while True:
        finished = os.path.exists(done)
        names = segments(d)
        if current is None and names:
            current = names[0]
            offset = 0
        sent = False
        if current is not None:
            path = os.path.join(d, current)
            try:
                f = open(path, 'rb')
                try:
                    f.seek(offset)
                    data = f.read(1 << 20)
                finally:
                    f.close()
            except (IOError, OSError):
                data = text('')
            end = data.rfind(text('\n'))
            if end >= 0:
                if announced != current:
                    out(text('#%s %d\n' % (current, offset)))
                    announced = current
                out(data[:end + 1])
                offset += end + 1
                sent = True
            later = [n for n in names if n > current]
            if not sent and later and end < 0:
                # this segment is complete: the probe only opens the next after closing it
                current = later[0]
                offset = 0
                continue
        if not sent:
            if finished:
                return 0
            time.sleep(POLL)


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
