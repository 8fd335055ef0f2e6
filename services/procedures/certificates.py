"""Retirement certificates (注销证明) for carbon-inclusion (碳普惠) certified reductions, as PDF.

Once reductions have been used to offset emissions they are retired by the operator, who issues a
certificate of retirement; retired reductions may not be used or traded again (e.g. Ordos rules,
art. 23: "减排量应在完成碳中和消纳后，由运营管理机构经审核后予以注销，并出示注销证明。减排量注销后不可重复
使用和交易").

The PDF is in Chinese and needs no font file: it uses Adobe's predefined CID font STSong-Light
(encoding UniGB-UCS2-H), which PDF readers supply themselves, so nothing is embedded and the
rendering machine needs no system fonts. The same data gives the same bytes (reportlab's invariant
mode: fixed creation date and document ID), so a certificate can be re-rendered on demand.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from states.messages import text

FONT = "STSong-Light"
MONO = "Courier"  # one of the 14 standard PDF fonts: no file needed either

IDEOGRAPHIC_SPACE = "\u3000"

INK = colors.HexColor("#1f2937")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#9ca3af")
ACCENT = colors.HexColor("#8b1a1a")  # the red of an official document, used sparingly

PAGE_W, PAGE_H = A4
MARGIN = 20 * mm
LABEL_W = 42 * mm
CELL_PAD = 5


@dataclass(frozen=True)
class CertificateData:
    number: str              # e.g. "SH-RET-2026-000017"
    jurisdiction_zh: str     # e.g. "上海市"
    operator_zh: str         # issuing body, e.g. "上海环境能源交易所"
    holder_name: str         # the organisation retiring
    holder_uscc: str         # 统一社会信用代码
    amount_tco2e: int
    serials: list[str]       # serial blocks retired, e.g. ["SH-2026-P00042-000001-001500", ...]
    purpose_zh: str          # e.g. "大型活动碳中和"
    purpose_detail: str      # free text (event name, court document reference, ...)
    retired_on: date
    verification_url: str    # e.g. "http://127.0.0.1:8000/api/v1/public/certificates/SH-RET-2026-000017"
    sha256_of_data: str      # a fingerprint printed on the certificate


# -- fingerprint ------------------------------------------------------------------------------------

def canonical_json(data: CertificateData) -> str:
    """Every field except `sha256_of_data`, keys sorted, no whitespace, UTF-8 text kept as is, the
    date as ISO 8601, serials in their given order."""
    fields: dict[str, Any] = asdict(data)
    del fields["sha256_of_data"]
    fields["retired_on"] = data.retired_on.isoformat()
    fields["serials"] = list(data.serials)
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def fingerprint(data: CertificateData) -> str:
    """SHA-256 (hex) of the canonical JSON of the certificate's data."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


# -- formatting -------------------------------------------------------------------------------------

def date_zh(d: date) -> str:
    """2026-03-02 → 2026年3月2日."""
    return text("certificate.long_date", year=d.year, month=d.month, day=d.day).zh


def amount_zh(amount: int) -> str:
    return text("certificate.tonnes", amount=amount).zh


def _both(key: str, **params: Any) -> str:
    """A line of the certificate says its thing in Chinese, then in English (the catalogue's `key`)."""
    return " ".join(text(key, **params))


def _labelled(key: str, value: str) -> str:
    """`<zh> <en>：<value>`: a named value, the name in both languages (the value is markup, not escaped)."""
    name = text(key)
    return text("certificate.labelled", zh=name.zh, en=name.en, value=value).zh


def _t(text: str) -> str:
    """Text for a Paragraph: escape its mini-markup and keep line breaks."""
    return escape(text).replace("\n", "<br/>")


def _ensure_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=10.5, leading=15, textColor=INK, wordWrap="CJK")

    def style(name: str, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "scheme": style("scheme", fontSize=11, leading=16, alignment=TA_CENTER, textColor=ACCENT),
        "title": style("title", fontSize=22, leading=30, alignment=TA_CENTER, spaceBefore=2),
        "subtitle": style("subtitle", fontSize=10, leading=14, alignment=TA_CENTER, textColor=MUTED),
        "number": style("number", fontSize=10.5, leading=15, alignment=TA_CENTER),
        "label": style("label", fontSize=10.5, leading=14),
        "label_en": style("label_en", fontSize=8, leading=10, textColor=MUTED),
        "value": base,
        "detail": style("detail", fontSize=9.5, leading=13, textColor=MUTED),
        "serial": style("serial", fontSize=9, leading=12.5),
        "closing": style("closing", fontSize=12, leading=18, alignment=TA_CENTER),
        "closing_en": style("closing_en", fontSize=9, leading=13, alignment=TA_CENTER, textColor=MUTED),
        "sign": style("sign", fontSize=11, leading=17, alignment=TA_RIGHT),
        "small": style("small", fontSize=8.5, leading=12, textColor=INK),
        "proof": style("proof", fontName=MONO, fontSize=5.5, leading=7, textColor=INK),
        "proof_label": style("proof_label", fontSize=6, leading=7.5, textColor=INK),
        "small_muted": style("small_muted", fontSize=8, leading=11, textColor=MUTED),
    }


# -- page furniture ---------------------------------------------------------------------------------

class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints: Canvas is Any
    """Defers each page until the end so the footer can say 第 x 页 / 共 y 页."""

    def __init__(self, *args: Any, certificate_number: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._certificate_number = certificate_number
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for i, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self._furniture(i, total)
            super().showPage()
        super().save()

    def _furniture(self, page: int, total: int) -> None:
        self.saveState()
        # a double rule framing the page
        self.setStrokeColor(ACCENT)
        self.setLineWidth(1.2)
        self.rect(10 * mm, 10 * mm, PAGE_W - 20 * mm, PAGE_H - 20 * mm)
        self.setLineWidth(0.4)
        self.rect(12 * mm, 12 * mm, PAGE_W - 24 * mm, PAGE_H - 24 * mm)
        self.setFillColor(MUTED)
        self.setFont(FONT, 8)
        numbered = text("certificate.page", page=page, total=total)
        footer = f"{_both('certificate.number')} {self._certificate_number}    {numbered.zh} ({numbered.en})"
        self.drawCentredString(PAGE_W / 2, 14.5 * mm, footer)
        if page > 1:
            title = text("certificate.title")
            self.drawCentredString(PAGE_W / 2, PAGE_H - 16.5 * mm,
                                   _both("certificate.continued", title_zh=title.zh, title_en=title.en))
        self.restoreState()


# -- the document -----------------------------------------------------------------------------------

def _label(st: dict[str, ParagraphStyle], key: str, **params: Any) -> list[Paragraph]:
    zh, en = text(key, **params)
    return [Paragraph(_t(zh), st["label"]), Paragraph(_t(en), st["label_en"])]


def _serial_rows(st: dict[str, ParagraphStyle], serials: list[str], value_w: float) -> list[list[Any]]:
    """Rows of [label, serial, serial] (two columns when every serial fits in half the width, else
    one spanning both); one table row per line so the table can break across pages anywhere."""
    label = _label(st, "certificate.serials", count=len(serials))
    if not serials:
        return [[label, Paragraph("—", st["value"]), ""]]
    half = value_w / 2 - 2 * CELL_PAD
    widest = max(pdfmetrics.stringWidth(s, FONT, st["serial"].fontSize) for s in serials)
    per_row = 2 if widest <= half else 1
    rows: list[list[Any]] = []
    for i in range(0, len(serials), per_row):
        cells: list[Any] = [Paragraph(_t(s), st["serial"]) for s in serials[i:i + per_row]]
        cells += [""] * (2 - len(cells))
        rows.append([label if i == 0 else "", *cells])
    return rows


def _log_proof(log: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    """The inclusion proof of the retirement's ledger entry, small (two hashes a line, so a proof in a
    log of millions of entries stays on the first page), with how to check it."""
    mono = f'<font name="{MONO}">'
    proof = log["inclusion_proof"]
    numbered = [f"{i + 1:>2}. {h}" for i, h in enumerate(proof)]
    pairs = ["    ".join(numbered[k:k + 2]) for k in range(0, len(numbered), 2)]
    signature = next((line for line in log["checkpoint"].splitlines() if line.startswith("\u2014")), "")
    return [
        Spacer(1, 2 * mm),
        Paragraph(_labelled("certificate.proof", f"{_both('certificate.leaf_index')} {mono}{log['leaf_index']}</font>"
                            f"{IDEOGRAPHIC_SPACE}{_both('certificate.tree_size')} {mono}{log['tree_size']}</font>"),
                  st["small"]),
        Paragraph(_labelled("certificate.root", f"{mono}{_t(log['root'])}</font>"), st["proof_label"]),
        Paragraph(_labelled("certificate.leaf_hash", f"{mono}{_t(log['leaf_hash'] or '')}</font>"), st["proof_label"]),
        *[Paragraph(_t(line).replace(" ", "&nbsp;"), st["proof"]) for line in pairs],
        Paragraph(_labelled("certificate.signature", f"{mono}{_t(signature)}</font>"), st["proof_label"]),
        Spacer(1, 1 * mm),
        Paragraph(_t(_both("certificate.log")), st["small_muted"]),
    ]


def _story(data: CertificateData, st: dict[str, ParagraphStyle], log: dict[str, Any] | None = None) -> list[Any]:
    width = PAGE_W - 2 * MARGIN
    value_w = width - LABEL_W

    purpose: list[Paragraph] = [Paragraph(_t(data.purpose_zh), st["value"])]
    if data.purpose_detail.strip():
        purpose.append(Paragraph(_t(data.purpose_detail), st["detail"]))

    head = [
        [_label(st, "certificate.holder"), Paragraph(_t(data.holder_name), st["value"]), ""],
        [_label(st, "certificate.uscc"), Paragraph(_t(data.holder_uscc), st["value"]), ""],
        [_label(st, "certificate.amount"), Paragraph(_t(amount_zh(data.amount_tco2e)), st["value"]), ""],
        [_label(st, "certificate.purpose"), purpose, ""],
        [_label(st, "certificate.date"),
         Paragraph(_t(f"{date_zh(data.retired_on)} ({data.retired_on.isoformat()})"), st["value"]), ""],
    ]
    serials = _serial_rows(st, data.serials, value_w)
    tail = [[_label(st, "certificate.issuer"), Paragraph(_t(data.operator_zh), st["value"]), ""]]
    rows = head + serials + tail

    first_serial, last_serial = len(head), len(head) + len(serials) - 1
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("TOPPADDING", (0, first_serial + 1), (-1, last_serial), 1),
        ("BOTTOMPADDING", (0, first_serial), (-1, last_serial - 1), 1),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f7f3ee")),
        ("BOX", (0, 0), (-1, -1), 0.8, INK),
        ("LINEAFTER", (0, 0), (0, -1), 0.4, RULE),
    ]
    for r in range(len(rows)):
        if r < first_serial or r >= last_serial:  # a rule under each field, none inside the serials
            commands.append(("LINEBELOW", (0, r), (-1, r), 0.4, RULE))
        if not (first_serial <= r <= last_serial and rows[r][2] != ""):
            commands.append(("SPAN", (1, r), (2, r)))
    table = Table(rows, colWidths=[LABEL_W, value_w / 2, value_w / 2], splitByRow=1, hAlign="CENTER")
    table.setStyle(TableStyle(commands))

    url = escape(data.verification_url, {'"': "&quot;"})
    title, closing = text("certificate.title"), text("certificate.closing")
    return [
        Paragraph(_t(text("certificate.scheme", jurisdiction=data.jurisdiction_zh).zh), st["scheme"]),
        Paragraph(_t(title.zh), st["title"]),
        Paragraph(_t(title.en), st["subtitle"]),
        Spacer(1, 5 * mm),
        Paragraph(_t(f"{_both('certificate.number')} {data.number}"), st["number"]),
        Spacer(1, 5 * mm),
        table,
        Spacer(1, (5 if log else 8) * mm),
        KeepTogether([
            Paragraph(_t(closing.zh), st["closing"]),
            Paragraph(_t(closing.en), st["closing_en"]),
            Spacer(1, 8 * mm),
            Paragraph(_t(data.operator_zh), st["sign"]),
            Paragraph(_t(date_zh(data.retired_on)), st["sign"]),
            Spacer(1, (5 if log else 10) * mm),  # room for the inclusion proof on the first page
            Paragraph(_labelled("certificate.url", f'<link href="{url}">{_t(data.verification_url)}</link>'),
                      st["small"]),
            Paragraph(_labelled("certificate.fingerprint", f'<font name="{MONO}">{_t(data.sha256_of_data)}</font>'),
                      st["small"]),
            Spacer(1, 2 * mm),
            Paragraph(_t(_both("certificate.verify")), st["small_muted"]),
        ]),
        *(_log_proof(log, st) if log else []),
    ]


def render_pdf(data: CertificateData, log: dict[str, Any] | None = None) -> bytes:
    """The certificate as an A4 PDF; the same data gives the same bytes. `log`: the retirement's
    inclusion proof in the transparency log (services.procedures.issuance.certificate_log), once sequenced."""
    _ensure_font()
    title = text("certificate.title")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * mm, bottomMargin=MARGIN + 4 * mm,
        title=f"{title.zh} {data.number}",
        author=data.operator_zh,
        subject=f"{title.en} — {data.holder_name}",
        keywords=[data.number, text("scheme.name").zh, text("certificate.short").zh],
        creator="carbon-inclusion",
        lang="zh-CN",
        invariant=1,
    )

    def canvasmaker(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        return _NumberedCanvas(*args, certificate_number=data.number, **kwargs)

    doc.build(_story(data, _styles(), log), canvasmaker=canvasmaker)
    return buf.getvalue()
