CACHE = {}


class Entry(object):
    def __init__(self, n):
        self.n = n
