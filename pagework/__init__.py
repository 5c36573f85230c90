"""The page work every entry point shares (the service, the CLI, the OCRmyPDF plugin): the codes,
the settings, decoding and checks, the cost of a page, and the model backends. It imports none
of its callers."""
