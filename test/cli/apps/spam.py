# Prints 10 000 numbered lines and an unterminated last line, then exits 3.
import sys
out = sys.stdout
i = 0
while i < 10000:
    out.write('line %d of the app\n' % i)
    i = i + 1
out.write('last line, no newline')
out.flush()
sys.exit(3)
