"""refscope demo: a photo slideshow with a planted callback leak.

Every slide builds a gallery.views.SlideView, which subscribes three bound methods
(on_key, on_rotate, on_theme) to the application's EventBus. When the next slide
replaces it, close() drops the thumbnail but never unsubscribes, so the bus keeps every
old view alive, and each one still reacts to every key press: the app gets slower and
bigger one slide at a time.

    npm run demo                               # the leak, found by refscope
    python examples/eventbus_app.py --fixed    # views unsubscribe in close(): no leak

Options: --frames N (slides, default 150), --sleep S (seconds per slide, default 0.1),
--fixed. Runs unchanged on Python 2.5 to 3.13.
"""
import sys
import time

from gallery.bus import EventBus
from gallery.views import Photo, SlideView

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass


def option(name, default, cast):
    args = sys.argv[1:]
    for i in range(len(args) - 1):
        if args[i] == '--' + name:
            return cast(args[i + 1])
    return default


def main():
    slides = option('frames', 150, int)
    pause = option('sleep', 0.1, float)
    fixed = '--fixed' in sys.argv[1:]
    bus = EventBus()
    album = []
    for i in range(24):
        album.append(Photo('IMG_%04d.JPG' % (1000 + i), 640 + (i % 3) * 160, 480))

    current = None
    for n in range(slides):
        if current is not None:
            current.close()
        current = SlideView(bus, album[n % len(album)], tidy=fixed)
        bus.emit('key', 'right')
        if n % 10 == 9:
            bus.emit('rotate', n % 20 == 9)
        if n % 50 == 49:
            bus.emit('theme', 'night')
        mark('slide')
        if n % 25 == 24:
            listeners = 0
            for handlers in bus.handlers.values():
                listeners += len(handlers)
            sys.stdout.write('slide %d/%d: %d listeners on the bus\n'
                             % (n + 1, slides, listeners))
            sys.stdout.flush()
        time.sleep(pause)


main()
