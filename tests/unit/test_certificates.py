"""Retirement certificates (注销证明): the PDF says what was retired, by whom and how to verify it, in
Chinese, with no font files; the fingerprint covers every field."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from datetime import date

import pytest
from pypdf import PdfReader

from services.procedures.certificates import CertificateData, fingerprint, render_pdf


def make(**changes) -> CertificateData:
    data = CertificateData(
        number="SH-RET-2026-000017",
        jurisdiction_zh="上海市",
        operator_zh="上海环境能源交易所",
        holder_name="上海浦江会展服务有限公司",
        holder_uscc="91310000MA1FL8XQ3K",
        amount_tco2e=1500,
        serials=["SH-2026-P00042-000001-001000", "SH-2026-P00042-001001-001400",
                 "SH-2026-P00057-000201-000300"],
        purpose_zh="大型活动碳中和",
        purpose_detail="2026 上海国际马拉松（第二十二届）碳中和",
        retired_on=date(2026, 3, 2),
        verification_url="http://127.0.0.1:8000/api/v1/public/certificates/SH-RET-2026-000017",
        sha256_of_data="",
    )
    data = dataclasses.replace(data, **changes)
    if "sha256_of_data" not in changes:
        data = dataclasses.replace(data, sha256_of_data=fingerprint(data))
    return data


def squash(text: str) -> str:
    """Text without whitespace, so extraction's spacing and line breaks do not matter."""
    return "".join(text.split())


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_certificate_says_what_was_retired_in_chinese():
    data = make()
    pdf = render_pdf(data)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) < 200 * 1024
    pages = pages_text(pdf)
    assert len(pages) == 1
    text = squash(pages[0])
    for expected in [
        "碳普惠核证减排量注销证明",
        "Certificate of Retirement of Carbon-Inclusion Certified Reductions",
        "上海市碳普惠",
        "SH-RET-2026-000017",
        "注销主体", "上海浦江会展服务有限公司",
        "统一社会信用代码", "91310000MA1FL8XQ3K",
        "注销数量", "1,500 吨二氧化碳当量 (tCO2e)",
        "注销用途", "大型活动碳中和", "2026 上海国际马拉松（第二十二届）碳中和",
        "注销日期", "2026年3月2日",
        "减排量序列号", *data.serials,
        "出具机构", "上海环境能源交易所",
        "上述减排量已注销，不可重复使用和交易。",
        "http://127.0.0.1:8000/api/v1/public/certificates/SH-RET-2026-000017",
        data.sha256_of_data,
        "可通过上述网址核验本证明",
        "第 1 页 / 共 1 页",
    ]:
        assert squash(expected) in text, expected


def test_the_chinese_font_is_the_builtin_cid_font_and_nothing_is_embedded():
    pdf = render_pdf(make())
    assert b"/BaseFont /STSong-Light" in pdf
    assert b"/Encoding /UniGB-UCS2-H" in pdf
    assert not re.search(rb"/FontFile[23]?\b", pdf)


def test_metadata():
    meta = PdfReader(io.BytesIO(render_pdf(make()))).metadata
    assert meta.title == "碳普惠核证减排量注销证明 SH-RET-2026-000017"
    assert meta.author == "上海环境能源交易所"
    assert "Certificate of Retirement" in meta.subject
    assert "上海浦江会展服务有限公司" in meta.subject


def test_the_same_data_gives_the_same_bytes():
    assert render_pdf(make()) == render_pdf(make())
    assert render_pdf(make()) != render_pdf(make(amount_tco2e=1501))


def test_many_serials_continue_onto_further_pages_and_all_can_be_read():
    serials = [f"GD-2025-P{i:05d}-000001-{i % 9000 + 1000:06d}" for i in range(300)]
    pdf = render_pdf(make(serials=serials, amount_tco2e=450_000))
    pages = pages_text(pdf)
    assert len(pages) > 1
    text = squash("\n".join(pages))
    for serial in serials:
        assert serial in text
    assert "450,000吨二氧化碳当量" in text
    for i, page in enumerate(pages, start=1):
        assert squash(f"第 {i} 页 / 共 {len(pages)} 页") in squash(page)
    last = squash(pages[-1])  # the closing and the verification block come after the serials
    assert "上述减排量已注销，不可重复使用和交易。" in last
    assert squash(make().verification_url) in last
    assert len(pdf) < 200 * 1024


def test_a_long_serial_gets_a_whole_line_and_wraps_rather_than_overflowing():
    long_one = "NMG-ORDOS-2026-FORESTRY-P000123-BLOCK-" * 3 + "0000000001-0000150000"  # > one line
    pdf = render_pdf(make(serials=["SH-2026-P00042-000001-001000", long_one]))
    text = pages_text(pdf)[0]
    assert long_one not in text  # it was wrapped…
    assert squash(long_one) in squash(text)  # …and nothing was cut off


def test_text_is_not_taken_for_markup():
    data = make(holder_name="A&B <绿色> 有限公司", purpose_detail="判决书 (2026)沪0101刑初1号 & 附件<1>")
    text = squash(pages_text(render_pdf(data))[0])
    assert squash("A&B <绿色> 有限公司") in text
    assert squash("判决书 (2026)沪0101刑初1号 & 附件<1>") in text


def test_no_serials_and_no_detail_still_render():
    text = squash(pages_text(render_pdf(make(serials=[], purpose_detail="")))[0])
    assert "减排量序列号" in text and "—" in text


def test_fingerprint_is_sha256_of_the_canonical_json_without_itself():
    data = make()
    fields = dataclasses.asdict(data)
    del fields["sha256_of_data"]
    fields["retired_on"] = "2026-03-02"
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert fingerprint(data) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(data))
    assert fingerprint(dataclasses.replace(data, sha256_of_data="something else")) == fingerprint(data)


@pytest.mark.parametrize("field, value", [
    ("number", "SH-RET-2026-000018"),
    ("jurisdiction_zh", "广东省"),
    ("operator_zh", "广州碳排放权交易中心"),
    ("holder_name", "上海浦江会展服务有限公司（分公司）"),
    ("holder_uscc", "91310000MA1FL8XQ3L"),
    ("amount_tco2e", 1501),
    ("serials", ["SH-2026-P00042-000001-001000", "SH-2026-P00042-001001-001400"]),
    ("serials", ["SH-2026-P00042-001001-001400", "SH-2026-P00042-000001-001000",
                 "SH-2026-P00057-000201-000300"]),
    ("purpose_zh", "生态环境损害赔偿"),
    ("purpose_detail", "2026 上海国际马拉松（第二十三届）碳中和"),
    ("retired_on", date(2026, 3, 3)),
    ("verification_url", "http://127.0.0.1:8000/api/v1/public/certificates/SH-RET-2026-000018"),
])
def test_the_fingerprint_changes_when_any_field_changes(field, value):
    data = make()
    assert fingerprint(dataclasses.replace(data, **{field: value})) != fingerprint(data)


def test_every_field_but_the_fingerprint_is_covered():
    covered = {"number", "jurisdiction_zh", "operator_zh", "holder_name", "holder_uscc", "amount_tco2e",
               "serials", "purpose_zh", "purpose_detail", "retired_on", "verification_url"}
    assert {f.name for f in dataclasses.fields(CertificateData)} - {"sha256_of_data"} == covered


def test_the_inclusion_proof_is_printed_small_and_the_page_stays_one() -> None:
    """A proof in a log of a million entries (20 hashes) fits on the first page; the fingerprint
    covers the certificate's data, not the proof (which is the log's, and arrives later)."""
    data = make()
    proof = [hashlib.sha256(bytes([i])).hexdigest() for i in range(20)]
    log = {"leaf_index": 987654, "tree_size": 1048576, "root": hashlib.sha256(b"root").hexdigest(),
           "leaf_hash": hashlib.sha256(b"leaf").hexdigest(), "inclusion_proof": proof,
           "checkpoint": "carbon-inclusion.local/log\n1048576\nAAAA\n\n"
                         "\u2014 carbon-inclusion.local/log c2lnbmF0dXJl\n"}
    pages = pages_text(render_pdf(data, log))
    assert len(pages) == 1
    text = squash(pages[0])
    assert "透明日志包含证明" in text and "987654" in text and "1048576" in text and log["root"] in text
    assert all(h in text for h in proof) and "c2lnbmF0dXJl" in text and data.sha256_of_data in text
    assert fingerprint(data) == data.sha256_of_data
