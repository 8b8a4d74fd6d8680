"""Server-rendered pages and images: the rating page, QR codes, the console."""
