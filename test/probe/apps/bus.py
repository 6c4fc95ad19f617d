class EventBus(object):
    def __init__(self):
        self.handlers = {'click': [], 'key': []}

    def on(self, name, fn):
        self.handlers[name].append(fn)


class Widget(object):
    def __init__(self, bus):
        bus.on('click', self.on_click)
        bus.on('key', self.on_key)

    def on_click(self):
        pass

    def on_key(self):
        pass
