"""A printable WZ: the PDF (fpdf2, pure Python) of the same content as the HTML print view."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from flask_babel import gettext as _
from fpdf import FPDF

from app.core.i18n import code_label

from app.stock.models import StockDocument

# Debian's fonts-dejavu-core: full Unicode (Polish letters). Without it the PDF falls back to the
# built-in Helvetica with letters folded to Latin-1, never an error.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return folded.encode("latin-1", "ignore").decode("latin-1")


def document_pdf(document: StockDocument, seller_details: str) -> bytes:
    """The document as a one- or more-page A4 PDF: seller, number, lines, quantities, signatures."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=20)
    unicode_font = (DEJAVU / "DejaVuSans.ttf").exists() and (DEJAVU / "DejaVuSans-Bold.ttf").exists()
    if unicode_font:
        pdf.add_font("DejaVu", "", str(DEJAVU / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
    family = "DejaVu" if unicode_font else "Helvetica"
    text = (lambda value: str(value)) if unicode_font else (lambda value: _fold(str(value)))
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 10, text(f"{document.kind_name} {document.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    when = document.posted_at or document.created_at
    facts = [f"{_('Warehouse:')} {document.warehouse.code} {document.warehouse.name}",
             f"{_('Date:')} {when:%Y-%m-%d %H:%M} UTC", f"{_('State:')} {code_label(document.state)}"]
    if document.order is not None:
        facts.append(f"{_('Order:')} {document.order.number} ({document.order.customer_name})")
    if document.reverses is not None:
        facts.append(f"{_('Reverses:')} {document.reverses.number}")
    for line in facts:
        pdf.cell(0, 6, text(line), new_x="LMARGIN", new_y="NEXT")
    if seller_details.strip():
        pdf.ln(2)
        pdf.set_font(family, "B", 10)
        pdf.cell(0, 6, text(_("Issued by")), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        pdf.multi_cell(0, 5, text(seller_details.strip()), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "B", 10)
    widths = (10, 40, 110, 30)
    for width, title in zip(widths, ("#", "SKU", _("Product"), _("Quantity"))):
        pdf.cell(width, 7, text(title), border=1)
    pdf.ln()
    pdf.set_font(family, "", 10)
    for number, line in enumerate(document.lines, start=1):
        cells = (str(number), line.sku, line.name[:60], _("%(count)s pcs", count=abs(line.quantity)))
        for width, value in zip(widths, cells):
            pdf.cell(width, 7, text(value), border=1)
        pdf.ln()
    pdf.ln(20)
    pdf.cell(90, 6, "_" * 30)
    pdf.cell(90, 6, "_" * 30, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(90, 6, text(_("Issued by (signature)")))
    pdf.cell(90, 6, text(_("Received by (signature)")), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
