"""Reading an authoring workbook back into an ``Instrument``, or every problem with its place.

The cells are extracted in the sandbox like every other upload; each sheet is then read here
row by row, each problem naming its sheet and cell, and the assembled instrument is validated
by the domain model (its problems are placed on the row of the key they name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Final

from pydantic import ValidationError

from app.domain.instrument import Instrument, Lens, Method, RiskBand
from app.excel.authoring_layout import (
    BEGIN_GROUP,
    CHOICES_COLUMNS,
    END_GROUP,
    LANG_COLUMNS,
    LEVEL_HEADER,
    LIST_COLUMNS,
    REQUIRED_SHEETS,
    SELECT_ONE,
    SETTINGS_COLUMNS,
    SHEET_ORDER,
    SURVEY_HEAD,
    SURVEY_TAIL,
    Sheet,
    texts,
)
from app.excel.authoring_sheet import SheetReader, put
from app.excel.filled import Cell, Grid
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem, sort_problems
from app.excel.reader import every_sheet
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.xlsform import choice_name

_QUOTED: Final = re.compile(r"'([^']+)'")
# the instrument joins its problems with "; ", which some of its messages also contain
_NEXT_PROBLEM: Final = re.compile(
    r"; (?=(?:key|dimension|area|item|variant|method|supersedes|scoring|languages|a derived) )"
)
_KINDS: Final = ("levels", "stages", "yesno", "points")
_OVERALL: Final = ("worst_section", "mean_section")

Data = dict[str, Any]


# --- the sheets ----------------------------------------------------------------------------------


@dataclass
class _Places:
    """Where each part of the instrument was read, to place the model's own problems."""

    keys: dict[str, tuple[str, int]] = field(default_factory=dict)
    dimensions: list[int] = field(default_factory=list)
    areas: list[list[int]] = field(default_factory=list)
    items: list[list[list[int]]] = field(default_factory=list)


def _choices(sheet: SheetReader) -> tuple[dict[str, Data], dict[str, int]]:
    scales: dict[str, Data] = {}
    first_rows: dict[str, int] = {}
    for r in sheet.rows():
        list_name = sheet.key(r, "list_name")
        value = sheet.number(r, "score", required=True)
        label = sheet.pair(r, "label", required=True)
        if list_name is None:
            continue
        scale = scales.setdefault(list_name, {"values": []})
        first_rows.setdefault(list_name, r)
        settings: tuple[tuple[str, str | bool | None], ...] = (
            ("kind", sheet.choice(r, "kind", _KINDS)),
            ("allow_na", sheet.flag(r, "allow_na")),
        )
        for column, found in settings:
            if found is None:
                continue
            if column in scale and scale[column] != found:
                sheet.add(
                    ProblemCode.invalid_value,
                    r,
                    sheet.columns[column],
                    found=f"'{sheet.text(r, column)}'",
                    column=column,
                    allowed=f"the value of row {first_rows[list_name]} (one per list)",
                )
            scale[column] = found
        name = sheet.text(r, "name")
        entry: Data = {"value": value, "label": label}
        if name is not None and value is not None and name != choice_name(value, None):
            entry["code"] = name
        put(entry, "description", sheet.pair(r, "description", plain=True))
        scale["values"].append(entry)
    for list_name, scale in scales.items():
        if "kind" not in scale and "kind" in sheet.columns:
            sheet.add(
                ProblemCode.missing_value,
                first_rows[list_name],
                sheet.columns["kind"],
                column="kind",
            )
    return scales, first_rows


def _settings(sheet: SheetReader) -> tuple[Data, Data]:
    """The instrument's own fields, and the scoring fields."""
    r = 2
    data: Data = {
        "id": sheet.text(r, "form_id", required=True),
        "version": sheet.text(r, "version", required=True),
        "title": {
            "en": sheet.text(r, "form_title", required=True),
            "es": sheet.text(r, "form_title_es", required=True),
        },
        "source": sheet.text(r, "source", required=True),
    }
    put(data, "description", sheet.pair(r, "description", plain=True))
    put(data, "subject", sheet.pair(r, "subject", plain=True))
    languages = sheet.text(r, "languages")
    if languages is not None:
        data["languages"] = tuple(languages.replace(",", " ").split())
    scoring: Data = {}
    put(scoring, "method", sheet.choice(r, "method", [m.value for m in Method]))
    put(scoring, "min_coverage", sheet.number(r, "min_coverage"))
    put(scoring, "improvement_threshold", sheet.number(r, "improvement_threshold"))
    put(scoring, "cap_by_weakest", sheet.integer(r, "cap_by_weakest"))
    put(scoring, "allow_partial", sheet.flag(r, "allow_partial"))
    bands = [b.value for b in RiskBand]
    risk: Data = {}
    put(risk, "key_question_floor", sheet.choice(r, "risk_key_question_floor", bands))
    put(risk, "overall", sheet.choice(r, "risk_overall", _OVERALL))
    put(risk, "failing_area_band", sheet.choice(r, "risk_failing_area_band", bands))
    scoring["risk"] = risk
    supersedes = sheet.text(r, "supersedes")
    if supersedes is not None:
        data["supersedes"] = {"version": supersedes, "items": {}}
    derived = sheet.text(r, "derived_from")
    if derived is not None:
        data["derived_from"] = {
            "version": derived,
            "variant": sheet.text(r, "derived_variant", required=True),
            "dropped_tags": tuple(sheet.keys(r, "derived_dropped_tags")),
            "dropped_items": tuple(sheet.keys(r, "derived_dropped_items")),
        }
    for row in sheet.rows():
        if row > 2:
            sheet.add(
                ProblemCode.misplaced_row,
                row,
                1,
                detail="Sheet 'settings' has one row of values (row 2).",
                detail_es="La hoja 'settings' tiene una sola fila de valores (la fila 2).",
            )
    return data, scoring


def _lists(sheets: dict[Sheet, SheetReader], data: Data, scoring: Data) -> None:
    bands, thresholds, conditions, supersedes, variants = (
        sheets[s]
        for s in (
            Sheet.bands,
            Sheet.risk_thresholds,
            Sheet.conditions,
            Sheet.supersedes,
            Sheet.variants,
        )
    )
    scoring["bands"] = [
        {
            "max": bands.number(r, "max", required=True),
            "label": bands.pair(r, "label", required=True),
        }
        for r in bands.rows()
    ]
    risk = scoring.pop("risk")
    risk_bands = [b.value for b in RiskBand]
    found = [
        {
            "band": thresholds.choice(r, "band", risk_bands, required=True),
            "below": thresholds.number(r, "below", required=True),
        }
        for r in thresholds.rows()
    ]
    conds: list[Data] = []
    for r in conditions.rows():
        c: Data = {
            "key": conditions.key(r, "key"),
            "title": conditions.pair(r, "title", required=True),
        }
        for name in ("action", "time_allowed", "reconsideration"):
            put(c, name, conditions.pair(r, name))
        conds.append(c)
    if found or risk or conds:
        scoring["risk"] = {**risk, "thresholds": found, "conditions": conds}
    items: dict[str, str | None] = {}
    for r in supersedes.rows():
        old = supersedes.text(r, "old_item", required=True)
        if old is not None:
            items[old] = supersedes.text(r, "new_item")
    if items and "supersedes" not in data:
        supersedes.add(
            ProblemCode.misplaced_row,
            next(supersedes.rows()),
            1,
            detail="Items are mapped to an earlier version but sheet 'settings' names none "
            "(column 'supersedes').",
            detail_es="Se asignan ítems a una versión anterior pero la hoja 'settings' no nombra "
            "ninguna (columna 'supersedes').",
        )
    elif "supersedes" in data:
        data["supersedes"]["items"] = items
    data["variants"] = [
        {
            "key": variants.text(r, "key", required=True),
            "title": variants.pair(r, "title", required=True),
            "description": variants.pair(r, "description", required=True),
            "drop_tags": tuple(variants.keys(r, "drop_tags")),
        }
        for r in variants.rows()
    ]
    data["scoring"] = scoring


def _group(sheet: SheetReader, r: int, depth: int) -> Data:
    node: Data = {"key": sheet.key(r, "name"), "title": sheet.pair(r, "label", required=True)}
    put(node, "description", sheet.pair(r, "hint"))
    put(node, "weight", sheet.number(r, "weight"))
    lens = sheet.choice(r, "lens", [lens.value for lens in Lens], required=depth == 0)
    put(node, "lens", lens)
    put(node, "lens_note", sheet.pair(r, "lens_note"))
    if depth == 0:
        conditions = {
            band: tuple(sheet.keys(r, f"conditions_{band}"))
            for band in ("medium", "high", "extreme")
        }
        if any(conditions.values()):
            node["conditions"] = conditions
        node["areas"] = []
    else:
        put(node, "desired_stage", sheet.integer(r, "desired_stage"))
        node["items"] = []
    return node


def _item(sheet: SheetReader, r: int, scale_key: str, scales: dict[str, Data]) -> Data:
    item: Data = {
        "key": sheet.key(r, "name"),
        "scale": scale_key,
        "text": sheet.pair(r, "label", required=True),
    }
    put(item, "guidance", sheet.pair(r, "guidance_hint"))
    put(item, "evidence", sheet.pair(r, "evidence"))
    put(item, "na_reason", sheet.pair(r, "na_reason"))
    put(item, "weight", sheet.number(r, "weight"))
    put(item, "key_question", sheet.flag(r, "key_question"))
    points = sheet.number(r, "risk_points")
    when = sheet.text(r, "risk_when")
    if points is not None:
        item["risk"] = {"points": points, **({"when": when} if when else {})}
    elif when is not None:
        sheet.add(
            ProblemCode.missing_value, r, sheet.columns.get("risk_points", 1), column="risk_points"
        )
    tags = sheet.keys(r, "tags")
    if tags:
        item["tags"] = tuple(tags)
    levels: dict[int, Data] = {}
    for name in sheet.columns:
        match = LEVEL_HEADER.match(name)
        if match and match.group(2) == LANG_COLUMNS[0][1]:
            statement = sheet.pair(r, f"level_{match.group(1)}")
            if statement is not None:
                levels[int(match.group(1))] = statement
    if levels:
        item["levels"] = levels
        scale = scales.get(scale_key)
        for value in scale["values"] if scale else []:
            level = value["value"]
            if level is not None and float(level).is_integer() and int(level) not in levels:
                column = sheet.columns.get(texts(f"level_{int(level)}")[0], 1)
                sheet.add(ProblemCode.level_missing, r, column, item=item["key"], level=int(level))
    return item


def _survey(sheet: SheetReader, scales: dict[str, Data], places: _Places) -> list[Data]:
    dimensions: list[Data] = []
    stack: list[tuple[Data, int]] = []

    def misplaced(r: int, en: str, es: str) -> None:
        sheet.add(
            ProblemCode.misplaced_row, r, sheet.columns.get("type", 1), detail=en, detail_es=es
        )

    for r in sheet.rows():
        kind = " ".join((sheet.text(r, "type") or "").split())
        if kind.lower() in ("begin group", "end group", BEGIN_GROUP, END_GROUP):
            kind = kind.lower().replace(" ", "_")
        if kind == BEGIN_GROUP:
            depth = len(stack)
            if depth > 1:
                misplaced(
                    r,
                    "Groups nest two deep at most: a dimension, then its areas.",
                    "Los grupos se anidan dos niveles como máximo: una dimensión y luego sus "
                    "áreas.",
                )
                continue
            node = _group(sheet, r, depth)
            if depth == 0:
                dimensions.append(node)
                places.dimensions.append(r)
                places.areas.append([])
                places.items.append([])
            else:
                stack[0][0]["areas"].append(node)
                places.areas[-1].append(r)
                places.items[-1].append([])
            stack.append((node, r))
            _remember(sheet, places, node.get("key"), r)
        elif kind == END_GROUP:
            name = sheet.text(r, "name")
            if not stack:
                misplaced(
                    r,
                    "This end_group closes no open group.",
                    "Este end_group no cierra ningún grupo abierto.",
                )
            elif name is not None and name != stack[-1][0].get("key"):
                open_key = stack[-1][0].get("key")
                misplaced(
                    r,
                    f"This end_group names '{name}' but the open group is '{open_key}'.",
                    f"Este end_group nombra '{name}' pero el grupo abierto es '{open_key}'.",
                )
                stack.pop()
            else:
                stack.pop()
        elif kind.startswith(f"{SELECT_ONE} "):
            scale_key = kind[len(SELECT_ONE) + 1 :].strip()
            if scale_key not in scales:
                sheet.add(
                    ProblemCode.unknown_scale, r, sheet.columns.get("type", 1), found=scale_key
                )
            if len(stack) != 2:
                misplaced(
                    r,
                    "A question belongs inside an area (a group inside a dimension's group).",
                    "Una pregunta va dentro de un área (un grupo dentro del grupo de una "
                    "dimensión).",
                )
                continue
            item = _item(sheet, r, scale_key, scales)
            stack[1][0]["items"].append(item)
            places.items[-1][-1].append(r)
            _remember(sheet, places, item.get("key"), r)
        elif kind:
            sheet.add(
                ProblemCode.invalid_value,
                r,
                sheet.columns["type"],
                found=f"'{kind}'",
                column="type",
                allowed=f"{BEGIN_GROUP}, {END_GROUP}, {SELECT_ONE} LIST",
            )
        else:
            sheet.add(ProblemCode.missing_value, r, sheet.columns.get("type", 1), column="type")
    for node, r in stack:
        sheet.add(
            ProblemCode.group_not_closed, r, sheet.columns.get("type", 1), found=node.get("key")
        )
    return dimensions


def _remember(sheet: SheetReader, places: _Places, key: str | None, r: int) -> None:
    if key is None:
        return
    if key in places.keys:
        sheet.add(
            ProblemCode.duplicate_key,
            r,
            sheet.columns["name"],
            found=key,
            first=places.keys[key][1],
        )
    else:
        places.keys[key] = (sheet.name, r)


# --- the whole workbook --------------------------------------------------------------------------


def parse_authoring(grids: dict[str, Grid]) -> Instrument:
    """Read extracted sheets into an instrument; raise WorkbookRejected with every problem."""
    problems: list[Problem] = []
    for name in REQUIRED_SHEETS:
        if name.value not in grids:
            problems.append(problem(ProblemCode.sheet_missing, sheet=name.value))
    if problems:
        raise WorkbookRejected(problems)
    known: dict[Sheet, tuple[tuple[str, ...], tuple[str, ...]]] = {
        Sheet.survey: (
            (*SURVEY_HEAD, *SURVEY_TAIL),
            ("type", "name", *texts("label")),
        ),
        Sheet.choices: (CHOICES_COLUMNS, ("list_name", "name", "score", *texts("label"))),
        Sheet.settings: (
            SETTINGS_COLUMNS,
            ("form_title", "form_title_es", "form_id", "version", "source"),
        ),
        **{s: (cols, ()) for s, cols in LIST_COLUMNS.items()},
    }
    sheets = {s: SheetReader(s.value, grids.get(s.value, {}), problems, *known[s]) for s in Sheet}
    scales, scale_rows = _choices(sheets[Sheet.choices])
    places = _Places()
    dimensions = _survey(sheets[Sheet.survey], scales, places)
    data, scoring = _settings(sheets[Sheet.settings])
    _lists(sheets, data, scoring)
    data["scales"] = scales
    data["dimensions"] = dimensions
    if problems:
        raise WorkbookRejected(sort_problems(problems, SHEET_ORDER))
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        placed = [_placed(err, places, scale_rows) for err in exc.errors()]
        raise WorkbookRejected(
            sort_problems([p for ps in placed for p in ps], SHEET_ORDER)
        ) from None


def _placed(err: Any, places: _Places, scale_rows: dict[str, int]) -> list[Problem]:
    loc = tuple(err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if not loc:  # the instrument's own checks: one message per problem, placed by the key named
        out = []
        for part in _NEXT_PROBLEM.split(message):
            keys = [k for k in _QUOTED.findall(part) if k in places.keys]
            sheet, row = places.keys[keys[0]] if keys else (Sheet.settings.value, 2)
            out.append(
                problem(ProblemCode.invalid_instrument, sheet=sheet, cell=f"A{row}", detail=part)
            )
        return out
    sheet, row = _locate(loc, places, scale_rows)
    where = ".".join(str(step) for step in loc)
    return [
        problem(
            ProblemCode.invalid_instrument,
            sheet=sheet,
            cell=f"A{row}",
            detail=f"{where}: {message}",
        )
    ]


def _locate(loc: tuple[Any, ...], places: _Places, scale_rows: dict[str, int]) -> tuple[str, int]:
    if loc[0] == "scales" and len(loc) > 1 and str(loc[1]) in scale_rows:
        return Sheet.choices.value, scale_rows[str(loc[1])]
    if loc[0] != "dimensions" or len(loc) < 2 or not isinstance(loc[1], int):
        sheet = {
            "scoring": Sheet.settings,
            "variants": Sheet.variants,
            "supersedes": Sheet.supersedes,
        }
        return sheet.get(str(loc[0]), Sheet.settings).value, 2
    d = loc[1]
    row = places.dimensions[d]
    if len(loc) > 3 and loc[2] == "areas" and isinstance(loc[3], int):
        row = places.areas[d][loc[3]]
        if len(loc) > 5 and loc[4] == "items" and isinstance(loc[5], int):
            row = places.items[d][loc[3]][loc[5]]
    return Sheet.survey.value, row


def _extract(data: bytes, limits: Limits) -> dict[str, Grid]:
    result = every_sheet(data, limits, Sheet.settings.value)
    if "problems" in result:
        found = result["problems"]
        if any(p["code"] in ("not_a_template", "empty_workbook") for p in found):
            # the extractor looks for its metadata sheet: here that is 'settings'
            raise WorkbookRejected([problem(ProblemCode.sheet_missing, sheet=Sheet.settings.value)])
        raise WorkbookRejected(
            [
                problem(ProblemCode(p["code"]), sheet=p["sheet"], cell=p["cell"], **p["params"])
                for p in found
            ]
        )
    return {
        name: {(int(r), int(c)): Cell(v, str(k)) for r, c, v, k in cells}
        for name, cells in result["sheets"].items()
    }


# the survey sheet has a pair of columns per level: wider than a template
AUTHORING_LIMITS: Final = replace(DEFAULT_LIMITS, max_columns=80)


def read_authoring(data: bytes, limits: Limits = AUTHORING_LIMITS) -> Instrument:
    """Check and read an uploaded authoring workbook; WorkbookRejected lists every problem."""
    check_upload(data, limits)
    return parse_authoring(_extract(data, limits))
