"""Screens of the slideshow."""

EVENTS = ('key', 'rotate', 'theme')


class Photo(object):
    def __init__(self, name, width, height):
        self.name = name
        self.width = width
        self.height = height

    def decode_thumbnail(self):
        # stands in for a JPEG decoder: 16 KiB of pixels per thumbnail
        return ('%-16s' % self.name) * 1024


class SlideView(object):
    """Shows one photo; follows key presses, screen rotation and theme changes."""

    def __init__(self, bus, photo, tidy=False):
        self.bus = bus
        self.photo = photo
        self.tidy = tidy
        self.thumbnail = photo.decode_thumbnail()
        self.landscape = photo.width >= photo.height
        self.theme = 'day'
        bus.subscribe('key', self.on_key)
        bus.subscribe('rotate', self.on_rotate)
        bus.subscribe('theme', self.on_theme)

    def on_key(self, key):
        return key == 'info'

    def on_rotate(self, landscape):
        self.landscape = landscape

    def on_theme(self, theme):
        self.theme = theme

    def close(self):
        self.thumbnail = None
        if self.tidy:
            # the fix: a view that subscribed must unsubscribe, or the bus keeps it
            for event in EVENTS:
                self.bus.unsubscribe(event, getattr(self, 'on_' + event))
