"""Application-wide events: keys, screen rotation, theme changes."""


class EventBus(object):
    def __init__(self):
        self.handlers = {}

    def subscribe(self, event, handler):
        self.handlers.setdefault(event, []).append(handler)

    def unsubscribe(self, event, handler):
        listeners = self.handlers.get(event, [])
        if handler in listeners:
            listeners.remove(handler)

    def emit(self, event, *args):
        for handler in list(self.handlers.get(event, ())):
            handler(*args)
