#!/usr/bin/env python3
"""Prints every protobuf message that pycriu's image modules describe, as JSON.

Runs inside a system that has CRIU's python3-pycriu installed (the test
target's root file system). The project's own image schema
(proto/criu-images.proto) is checked against this output: each field we
declare must exist in CRIU's message with the same number and a
wire-compatible type. Nothing of CRIU's is copied; this only reads the
descriptors at test time.

Output: {"criu_version": str|null,
         "magic": {name: number} (pycriu's images/magic.py),
         "messages": {full_name: {"file": str, "fields": [
             {"name", "number", "type", "label", "type_name"}]}},
         "enums": {full_name: {"file": str, "values": {name: number}}}}
"""
import importlib
import json
import os
import sys

import pycriu.images
from pycriu.images import magic
from google.protobuf import descriptor

TYPE_NAMES = {
    getattr(descriptor.FieldDescriptor, name): name[len('TYPE_'):].lower()
    for name in dir(descriptor.FieldDescriptor) if name.startswith('TYPE_')
}
LABEL_NAMES = {
    descriptor.FieldDescriptor.LABEL_OPTIONAL: 'optional',
    descriptor.FieldDescriptor.LABEL_REQUIRED: 'required',
    descriptor.FieldDescriptor.LABEL_REPEATED: 'repeated',
}


def field_json(f):
    type_name = None
    if f.message_type is not None:
        type_name = f.message_type.full_name
    elif f.enum_type is not None:
        type_name = f.enum_type.full_name
    return {
        'name': f.name,
        'number': f.number,
        'type': TYPE_NAMES[f.type],
        'label': LABEL_NAMES[f.label],
        'type_name': type_name,
    }


def collect_enum(e, file_name, out):
    out['enums'][e.full_name] = {
        'file': file_name,
        'values': {v.name: v.number for v in e.values},
    }


def collect_message(m, file_name, out):
    out['messages'][m.full_name] = {
        'file': file_name,
        'fields': [field_json(f) for f in m.fields],
    }
    for nested in m.nested_types:
        collect_message(nested, file_name, out)
    for e in m.enum_types:
        collect_enum(e, file_name, out)


def criu_version():
    try:
        from pycriu import version
        return getattr(version, '__version__', None)
    except Exception:
        return None


def main():
    out = {'criu_version': criu_version(), 'magic': dict(magic.by_name), 'messages': {}, 'enums': {}}
    directory = os.path.dirname(pycriu.images.__file__)
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith('_pb2.py'):
            continue
        module = importlib.import_module('pycriu.images.' + entry[:-3])
        fd = module.DESCRIPTOR
        for m in fd.message_types_by_name.values():
            collect_message(m, fd.name, out)
        for e in fd.enum_types_by_name.values():
            collect_enum(e, fd.name, out)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
