"""Printable documents (PDF) made from Jinja2 templates with WeasyPrint: the shops' QR
stickers. WeasyPrint needs pango at run time, so it is imported only when a document is
made: a server without pango starts, and a sticker request then says what is missing."""
