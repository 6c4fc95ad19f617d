# Does not compile.
def broken(:
    pass
