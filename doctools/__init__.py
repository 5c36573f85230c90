"""The document tools: the `remove-background` CLI, and PDFs and TIFFs taken page by page, over
the page work the service shares (`pagework/`); the OCRmyPDF plugin builds on them."""
