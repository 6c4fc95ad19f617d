# Prints what a script can see of how it was started.
import sys
w = sys.stdout.write
w('argv=%r\n' % (sys.argv,))
w('path0=%r\n' % (sys.path[0],))
w('file=%r name=%r\n' % (__file__, __name__))
w('globals=%r\n' % (sorted(globals().keys()),))
w('order=%r\n' % (list(globals().keys())[:9],))
w('package=%r spec=%r\n' % (globals().get('__package__', 'NA'), globals().get('__spec__', 'NA')))
w('loader=%s\n' % type(globals().get('__loader__')).__name__)
w('builtins=%s\n' % type(__builtins__).__name__)
w('main_is_me=%r\n' % (sys.modules['__main__'].__dict__ is globals(),))
