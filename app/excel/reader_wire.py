"""Reading a filled template inside the parser worker: the upload checks, the extraction and, when
the importing process said which instrument version to expect, every check of ``reader_checks``,
so that what crosses back is the checked answers or the problems, not every cell.

``read`` is the worker's ``read`` task (``_worker`` loads this module lazily: the worker that only
extracts cells or annotates never imports the domain). What it answers, as JSON:

* ``{"rejected": ...}``: the upload checks or the template checks refused it (every problem, the
  workbook's language and its cover when it got that far);
* ``{"checked": ...}``: the expected version's checks passed: meta, cover, items, answers;
* either with ``"expected": [id, version]`` when the checks went as far as the expected version:
  the importing process then makes sure its resolver still answers that version with the hash
  it expected (or reads again, the cells only);
* ``{"need": true}``: the workbook is of the expected version but this worker was not sent that
  version's definition yet: the importing process asks again with it (once per worker);
* anything else: the extraction's own answer (its ``problems``, or the cells): nothing was
  expected, or the workbook is of another version; the importing process checks the cells.

The checks are the very functions the importing process runs on the cells, so where they run
changes nothing in what they find.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

from app.domain.answers import ParsedAnswers
from app.domain.instrument import Instrument
from app.domain.scoring import NA, AnswerValue
from app.excel._worker import json_value
from app.excel.filled import Cover, FilledItem, TemplateMeta
from app.excel.problems import Problem, WorkbookRejected
from app.excel.reader_checks import Checked, check_sheets, from_json, grids
from app.excel.safety import Limits, check_upload

_KNOWN_MAX: Final = 8
# the instrument versions the importing process sent this worker, by (id, version, content hash)
_known: dict[tuple[str, str, str], Instrument] = {}

Extract = Callable[[bytes, dict[str, Any]], dict[str, Any]]


class _Unexpected(Exception):
    """The workbook is of another instrument version than the one expected."""


class _Need(Exception):
    """The expected version's definition was not sent to this worker yet."""


def read(data: bytes, params: dict[str, Any], extract: Extract) -> dict[str, Any]:
    """The ``read`` task (see the module docstring); ``extract`` is ``_worker``'s extraction."""
    try:
        check_upload(data, Limits(**params["limits"]))
    except WorkbookRejected as rejected:
        return {"rejected": rejected_json(rejected)}
    result = extract(data, params)
    expect = params.get("expect")
    if "problems" in result or not expect:
        return result
    key = (str(expect["id"]), str(expect["version"]), str(expect["hash"]))
    used: dict[str, Any] = {}  # {"expected": ...} once the checks went on with that version

    def resolve(instrument_id: str, version: str) -> tuple[Instrument, str]:
        if (instrument_id, version) != key[:2]:
            raise _Unexpected
        instrument = _known.get(key)
        if instrument is None:
            definition = params.get("instrument")
            if definition is None:
                raise _Need
            instrument = Instrument.model_validate_json(definition)
            if len(_known) >= _KNOWN_MAX:
                del _known[next(iter(_known))]
            _known[key] = instrument
        used["expected"] = key[:2]
        return instrument, key[2]

    try:
        checked = check_sheets(grids(result["sheets"]), resolve)
    except _Unexpected:
        return result
    except _Need:
        return {"need": True}
    except WorkbookRejected as rejected:
        return {"rejected": rejected_json(rejected), **used}
    return {"checked": checked_json(checked), **used}


# --- the JSON both sides agree on ----------------------------------------------------------------


def _cover_json(cover: Cover) -> list[Any]:
    day = cover.assessed_on
    return [
        cover.organization_name,
        cover.organization_external_id,
        cover.round,
        None if day is None else day.isoformat(),
        cover.assessor,
    ]


def _cover(data: list[Any]) -> Cover:
    name, external_id, round_, day, assessor = data
    return Cover(
        name, external_id, round_, None if day is None else date.fromisoformat(day), assessor
    )


def _answer_json(value: AnswerValue | None) -> Any:
    return "na" if value is NA else value


def _answer(value: Any) -> AnswerValue | None:
    return NA if value == "na" else value


def rejected_json(rejected: WorkbookRejected) -> dict[str, Any]:
    cover = rejected.cover
    return {
        "problems": [p.to_dict() for p in rejected.problems],
        "language": rejected.language,
        "cover": _cover_json(cover) if isinstance(cover, Cover) else None,
    }


def rejected(data: dict[str, Any]) -> WorkbookRejected:
    """The rejection ``rejected_json`` wrote, as it was raised."""
    cover = data["cover"]
    return WorkbookRejected(
        [Problem.from_dict(p) for p in data["problems"]],
        data["language"],
        None if cover is None else _cover(cover),
    )


def checked_json(checked: Checked) -> dict[str, Any]:
    m = checked.meta
    return {
        "meta": [
            m.instrument_id,
            m.instrument_version,
            m.content_hash,
            m.format_version,
            m.language,
        ],
        "cover": _cover_json(checked.cover),
        "items": [
            [
                i.item,
                i.sheet,
                i.answer_cell,
                i.note_cell,
                json_value(i.raw),
                i.note,
                _answer_json(i.value),
            ]
            for i in checked.items
        ],
        "values": [[key, _answer_json(value)] for key, value in checked.answers.values.items()],
        "notes": checked.answers.notes,
    }


def checked_meta(data: dict[str, Any]) -> TemplateMeta:
    instrument_id, version, content_hash, format_version, language = data["meta"]
    return TemplateMeta(instrument_id, version, content_hash, format_version, language)


def checked(data: dict[str, Any], instrument: Instrument) -> Checked:
    """What ``checked_json`` wrote, read against ``instrument`` (the one it was checked with)."""
    values: dict[str, AnswerValue] = {}
    for key, value in data["values"]:
        answer = _answer(value)
        assert answer is not None
        values[key] = answer
    return Checked(
        meta=checked_meta(data),
        instrument=instrument,
        cover=_cover(data["cover"]),
        items=tuple(
            FilledItem(item, sheet, answer_cell, note_cell, from_json(raw), note, _answer(value))
            for item, sheet, answer_cell, note_cell, raw, note, value in data["items"]
        ),
        answers=ParsedAnswers(values, dict(data["notes"])),
    )
