#!/usr/bin/env python3
"""Checks NDJSON OCSF events against the OCSF 1.1.0 schema files kept in
tests/ocsf/schema (from github.com/ocsf/ocsf-schema, tag v1.1.0; Apache 2.0).

For each line: the class (class_uid) is resolved with its parents and
includes; every attribute must be one the class or its object defines (only
"unmapped" may hold anything), of the dictionary's type, with a defined enum
value and its matching caption; every required attribute of the class and of
each object present must be there, and objects' at_least_one/just_one
constraints must hold. Attributes of a profile are checked as required only
when metadata.profiles names it. Prints one line per problem; exits 1 if any.

usage: validate.py SCHEMA_DIR < events.ndjson
"""
import ipaddress, json, os, sys

root = sys.argv[1]


def load(rel):
    with open(os.path.join(root, rel)) as f:
        return json.load(f)


dictionary = load("dictionary.json")
dict_attrs = dictionary["attributes"]
base_types = dictionary["types"]["attributes"]
CLASSES = {2004: "events/findings/detection_finding.json"}


def merge(into, attrs, profile=None):
    for name, spec in attrs.items():
        if name == "$include":
            continue
        cur = dict(into.get(name, {}))
        enum = dict(cur.get("enum") or {})
        enum.update(spec.get("enum") or {})
        cur.update(spec)
        if enum:
            cur["enum"] = enum      # a class adds to its parent's values, as the schema compiler does
        if profile and "profile" not in cur:
            cur["profile"] = profile
        into[name] = cur


def resolve_event(rel):
    d = load(rel)
    attrs = {}
    parent = d.get("extends")
    if parent:
        parent_rel = {"finding": "events/findings/finding.json", "base_event": "events/base_event.json"}[parent]
        attrs = resolve_event(parent_rel)[1]
    for inc in d["attributes"].get("$include", []):
        inc_d = load(inc)
        merge(attrs, inc_d["attributes"], inc_d.get("name") if inc_d.get("meta") == "profile" else None)
    merge(attrs, d["attributes"])
    return d, attrs


def resolve_object(name, seen=()):
    d = load("objects/%s.json" % name)
    attrs, constraints = {}, dict(d.get("constraints") or {})
    parent = d.get("extends")
    if parent and parent != "object":
        pattrs, pcons = resolve_object(parent)
        attrs.update(pattrs)
        for k, v in pcons.items():
            constraints.setdefault(k, v)
    for inc in d.get("attributes", {}).get("$include", []):
        inc_d = load(inc)
        merge(attrs, inc_d["attributes"], inc_d.get("name") if inc_d.get("meta") == "profile" else None)
    merge(attrs, d.get("attributes", {}))
    return attrs, constraints


problems = []


def problem(line, where, what):
    problems.append("line %d: %s: %s" % (line, where, what))


def check_scalar(line, where, t, v):
    base = base_types.get(t, {}).get("type", t)
    if base in ("string_t",) or t == "string_t":
        if not isinstance(v, str):
            return problem(line, where, "want a string (%s), got %r" % (t, v))
        if t == "ip_t":
            try:
                ipaddress.ip_address(v)
            except ValueError:
                problem(line, where, "not an IP address: %r" % v)
    elif t in ("integer_t", "long_t", "timestamp_t", "port_t") or base in ("integer_t", "long_t"):
        if not isinstance(v, int) or isinstance(v, bool):
            problem(line, where, "want an integer (%s), got %r" % (t, v))
    elif t == "float_t":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            problem(line, where, "want a number, got %r" % v)
    elif t == "boolean_t":
        if not isinstance(v, bool):
            problem(line, where, "want a boolean, got %r" % v)
    elif t == "json_t":
        pass
    else:
        problem(line, where, "unknown type %s" % t)


def check_attrs(line, where, obj, attrs, profiles, constraints=None):
    if not isinstance(obj, dict):
        return problem(line, where, "want an object, got %r" % (obj,))
    for name, spec in attrs.items():
        required = spec.get("requirement") == "required"
        if required and spec.get("profile") and spec["profile"] not in profiles:
            required = False
        if required and name not in obj:
            problem(line, where, "required attribute %s is missing" % name)
    for group, names in (constraints or {}).items():
        present = [n for n in names if n in obj]
        if group == "at_least_one" and not present:
            problem(line, where, "needs at least one of %s" % names)
        if group == "just_one" and len(present) != 1:
            problem(line, where, "needs exactly one of %s" % names)
    for name, v in obj.items():
        w = "%s.%s" % (where, name) if where else name
        if name not in attrs:
            problem(line, w, "not an attribute of this %s" % (where or "class"))
            continue
        if name == "unmapped":
            if not isinstance(v, dict):
                problem(line, w, "want an object")
            continue
        spec = dict(dict_attrs.get(name, {}))
        spec.update(attrs[name])
        t = spec.get("type")
        values = v if spec.get("is_array") else [v]
        if spec.get("is_array") and not isinstance(v, list):
            problem(line, w, "want an array")
            continue
        for i, item in enumerate(values):
            wi = "%s[%d]" % (w, i) if spec.get("is_array") else w
            if t in base_types or t.endswith("_t"):
                check_scalar(line, wi, t, item)
            else:
                oattrs, ocons = resolve_object(t)
                check_attrs(line, wi, item, oattrs, profiles, ocons)
        enum = spec.get("enum")
        if name in ("class_uid", "category_uid", "type_uid"):
            enum = None     # placeholders in the files; checked against the class below
        if enum and not spec.get("is_array"):
            if str(v) not in enum:
                problem(line, w, "%r is not one of %s" % (v, sorted(enum)))
            elif name.endswith("_id") and str(v) != "99":
                label = name[:-3]
                if label in obj and obj[label] != enum[str(v)]["caption"]:
                    problem(line, "%s.%s" % (where, label) if where else label,
                            "%r is not the caption of %s %s (%r)" % (obj[label], name, v, enum[str(v)]["caption"]))


n_lines = 0
for n, text in enumerate(sys.stdin, 1):
    n_lines = n
    try:
        ev = json.loads(text)
    except ValueError as e:
        problem(n, "", "not JSON: %s" % e)
        continue
    cls = ev.get("class_uid")
    if cls not in CLASSES:
        problem(n, "class_uid", "%r is not a class this validator has" % cls)
        continue
    d, attrs = resolve_event(CLASSES[cls])
    cat = load("categories.json")["attributes"][d["category"]]["uid"]
    if ev.get("category_uid") != cat or cls != cat * 1000 + d["uid"]:
        problem(n, "category_uid", "%r does not fit class %r" % (ev.get("category_uid"), cls))
    if ev.get("type_uid") != cls * 100 + ev.get("activity_id", -1):
        problem(n, "type_uid", "%r is not class_uid * 100 + activity_id" % ev.get("type_uid"))
    if ev.get("class_name") != d["caption"]:
        problem(n, "class_name", "%r is not %r" % (ev.get("class_name"), d["caption"]))
    profiles = set((ev.get("metadata") or {}).get("profiles") or [])
    check_attrs(n, "", ev, attrs, profiles)
if not n_lines:
    problem(0, "", "no events at all")
for p in problems[:50]:
    print(p)
if problems:
    print("%d problems" % len(problems))
    sys.exit(1)
