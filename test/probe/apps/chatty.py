# Writes a lot to stdout and stderr, then ends the way argv[1] says.
import sys


def deep(n):
    if n == 0:
        raise ValueError('deep failure %d' % len(sys.argv))
    return deep(n - 1)


def main():
    how = sys.argv[1]
    out = sys.stdout
    for i in range(3000):
        out.write('line %d %s\n' % (i, 'x' * (i % 50)))
        if i % 500 == 0:
            sys.stderr.write('progress %d\n' % i)
    out.write('unterminated last line')
    if how == 'zero':
        return
    if how == 'three':
        sys.exit(3)
    if how == 'none':
        sys.exit(None)
    if how == 'msg':
        sys.exit('bye: a message')
    if how == 'raise':
        deep(3)
    if how == 'kbd':
        raise KeyboardInterrupt()
    if how == 'big':
        sys.exit(258)


main()
