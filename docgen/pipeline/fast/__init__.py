"""docgen's hand-written code that does a library's job in less time: rendering a template read
once (docxtpl's steps, :mod:`.render`), and many documents merged into one LibreOffice call and
split back (:mod:`.merge`, :mod:`.split`).

There is one switch for the whole deployment: these paths consult :func:`signing.fast.enabled`,
the same switch as signing's, at call time; with ``signing.fast.use(False)`` every caller takes
the library path instead (docxtpl end to end; one LibreOffice call per document). Each module
states its measured share of the bulk time in its docstring; ``bench/fast_documents.py`` prints
the figures of both paths side by side.
"""
