"""JSON Schemas of the event contract, for consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path

import schemas
from commands.routing import COMMANDS
from schemas.envelope import EventEnvelope


def export_schemas(target: Path) -> list[Path]:
    """Write events/<Type>.v<N>.json, commands/<Name>.json and envelope.json; answer the files written."""
    written = []
    documents = {f"events/{name}.v{cls.schema_version}.json": _event_schema(cls) for name, cls in schemas.EVENT_TYPES.items()}
    documents |= {f"commands/{cmd.__name__}.json": cmd.model_json_schema() for cmd in COMMANDS}
    documents["envelope.json"] = EventEnvelope.model_json_schema()
    for relative, document in sorted(documents.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _event_schema(cls) -> dict:
    document = cls.model_json_schema()
    document["x-event-type"] = cls.__name__
    document["x-schema-version"] = cls.schema_version
    return document
