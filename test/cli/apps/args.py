# Writes its argv to stdout as one line of repr, for checking that arguments arrive verbatim.
import sys
sys.stdout.write(repr(sys.argv[1:]) + '\n')
