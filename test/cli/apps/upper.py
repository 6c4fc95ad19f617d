# Copies its stdin to stdout in upper case: the app must get the user's stdin.
import sys
sys.stdout.write(sys.stdin.read().upper())
