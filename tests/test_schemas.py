"""Schema validation: every problem at once, readable, with lines for manifests."""

from __future__ import annotations

import json

from sslcli import schemas
from sslcli.testing import invoke

RECORD = {
    "type": "object",
    "required": ["path", "fps"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "description": "file"},
        "fps": {"type": "number", "exclusiveMinimum": 0, "description": "rate"},
        "split": {"enum": ["train", "val", "test"], "description": "split"},
    },
}


def test_check_lists_every_problem_of_one_instance():
    problems = schemas.check({"fps": "fast", "split": "dev", "colour": 1, "size": 2},
                             RECORD, "m.json")
    assert [p.format() for p in problems] == [
        "m.json: colour: expected a known field (allowed: fps, path, split), "
        "got unknown field 'colour' [schema.additionalProperties]",
        "m.json: fps: expected number, got 'fast' (string) [schema.type]",
        "m.json: path: expected a value (missing required field) [schema.required]",
        "m.json: size: expected a known field (allowed: fps, path, split), "
        "got unknown field 'size' [schema.additionalProperties]",
        "m.json: split: expected one of train, val, test, got 'dev' [schema.enum]",
    ]


def test_every_missing_required_field_is_named():
    problems = schemas.check({}, RECORD, "m.json")
    assert [p.field for p in problems] == ["fps", "path"]


def test_manifest_faults_on_lines_2_5_9_give_three_problems(tmp_path):
    good = {"path": "a.mp4", "fps": 30}
    rows = [good] * 9
    rows[1] = {"path": "b.mp4", "fps": -1}
    rows[4] = {"path": "c.mp4", "fps": 25, "split": "dev"}
    rows[8] = {"fps": 30}
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = schemas.validate_records(manifest, RECORD)
    assert [(p.line, p.field, p.code) for p in problems] == [
        (2, "fps", "schema.exclusiveMinimum"), (5, "split", "schema.enum"),
        (9, "path", "schema.required")]
    assert problems[0].format() == f"{manifest}:2: fps: expected > 0, got -1 [schema.exclusiveMinimum]"


def test_csv_manifest_is_typed_per_column(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("Path,FPS,split\na.mp4,30,train\nb.mp4,n/a,test\nc.mp4,nan,val\n")
    problems = schemas.validate_records(manifest, RECORD)
    assert [(p.line, p.field, p.got) for p in problems] == [
        (3, "fps", "'n/a' (string)"), (4, "fps", "'nan' (string)")]


def test_unreadable_manifest_is_a_problem_not_a_crash(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'{"path": "a", "fps": 1}\n{not json\n\xff\xfe\n')
    problems = schemas.validate_records(manifest, RECORD)
    assert [(p.line, p.code) for p in problems] == [(2, "io.unreadable"), (3, "io.unreadable")]


def test_const_pinned_one_of_reports_the_whole_branch():
    schema = {"oneOf": [
        {"type": "object", "required": ["format", "fs", "stride"],
         "properties": {"format": {"const": "a/1"}, "fs": {"type": "number"},
                        "stride": {"type": "integer"}}},
        {"type": "object", "required": ["format", "files"],
         "properties": {"format": {"const": "b/1"}, "files": {"type": "array"}}},
    ]}
    problems = schemas.check({"format": "a/1", "fs": "50Hz"}, schema, "meta.json")
    assert sorted((p.field, p.code) for p in problems) == [
        ("fs", "schema.type"), ("stride", "schema.required")]


def test_did_you_mean():
    assert schemas.did_you_mean("batchsize", ["batch_size", "epochs"]) == "batch_size"
    assert schemas.did_you_mean("zzz", ["batch_size"]) == ""


def test_validate_cli_lists_all_problems_and_json_lines(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x0,x1\n1,2\nabc,3\n4,\n5,6,7\n")
    result = invoke(["validate", "--modality", "vectors", str(bad)])
    assert result.exit_code == 2
    lines = [x for x in result.stderr.splitlines() if "[" in x]
    assert len(lines) >= 3, result.stderr
    assert f"{bad}:3: x0: expected number, got 'abc' (string) [schema.type]" in result.stderr
    as_json = invoke(["validate", "--modality", "vectors", "--json", str(bad)])
    assert as_json.exit_code == 2
    rows = [json.loads(x) for x in as_json.stdout.splitlines()]
    assert {"path", "line", "field", "expected", "got", "code", "severity"} <= set(rows[0])
    assert len(rows) == len(lines)


def test_valid_input_exits_0(toy_csv):
    result = invoke(["validate", "--modality", "vectors", str(toy_csv)])
    assert result.exit_code == 0, result.stderr
    assert "1 path(s) checked: 0 error(s), 0 warning(s)" in result.stderr


def test_schema_command_prints_dataset_and_run_config_schemas():
    data = json.loads(invoke(["schema", "--modality", "wearable"]).stdout)
    assert data["$id"] == "urn:sslcli:schema:wearable_dataset"
    run = json.loads(invoke(["schema", "--config", "--modality", "vectors"]).stdout)
    assert run["properties"]["params"]["properties"]["temperature"]["default"] == 0.2
    plain = json.loads(invoke(["schema", "--config"]).stdout)
    assert plain["$id"] == "urn:sslcli:schema:run_config"
    assert invoke(["schema"]).exit_code == 2


def test_unparseable_json_manifest_is_a_problem(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text('[{"path": "a", "fps": 1},\n {oops}]\n')
    problems = schemas.validate_records(manifest, RECORD)
    assert [(p.line, p.code) for p in problems] == [(2, "io.unreadable")]
    assert problems[0].expected == "valid JSON"
