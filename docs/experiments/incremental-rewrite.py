# Verification, not product code (docs/incremental.md): rewrites checkpoint B
# as a CRIU incremental image over parent A, as the helper will: pages
# identical to A's at the same address of the same pid become in-parent
# entries (PE_PARENT), B's pages file keeps only the others, and B/parent
# links to ../A. Run on the target (pycriu from Debian's criu package):
#   python3 incremental-rewrite.py A B PID keep-lazy
import sys, os, pycriu
A, B, pid, lazyflag = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == 'keep-lazy'
PAGE = 4096
PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4

def load(d):
    with open(f'{d}/pagemap-{pid}.img', 'rb') as f:
        img = pycriu.images.load(f)
    head, entries = img['entries'][0], img['entries'][1:]
    pages = open(f"{d}/pages-{head['pages_id']}.img", 'rb').read()
    return img, head, entries, pages

def flags(e):
    f = e.get('flags', 0)
    if isinstance(f, str):
        v = 0
        for part in f.split('|'):
            v |= {'PE_PARENT': 1, 'PE_LAZY': 2, 'PE_PRESENT': 4}[part.strip()]
        return v
    return f

def vaddr(e):
    v = e['vaddr']
    return int(v, 16) if isinstance(v, str) else v

def present_pages(entries, pages):
    out, off = {}, 0
    for e in entries:
        if flags(e) & PE_PRESENT:
            for i in range(e['nr_pages']):
                out[vaddr(e) + i * PAGE] = pages[off:off + PAGE]
                off += PAGE
    return out

_, _, ea, pa = load(A)
a = present_pages(ea, pa)
img, head, eb, pb = load(B)
new_entries, new_pages, off, shared = [], bytearray(), 0, 0
def push(addr, inpar, lazy):
    fl = (PE_PARENT if inpar else PE_PRESENT) | (PE_LAZY if lazy and (lazyflag or not inpar) else 0)
    last = new_entries[-1] if new_entries else None
    if last and flags(last) == fl and vaddr(last) + last['nr_pages'] * PAGE == addr:
        last['nr_pages'] += 1
    else:
        new_entries.append({'vaddr': addr, 'nr_pages': 1, 'flags': fl})
for e in eb:
    f = flags(e)
    for i in range(e['nr_pages']):
        addr = vaddr(e) + i * PAGE
        if f & PE_PRESENT:
            page = pb[off:off + PAGE]; off += PAGE
            same = a.get(addr) == page
            shared += same
            push(addr, same, f & PE_LAZY)
            if not same:
                new_pages += page
        else:
            new_entries.append(dict(e, nr_pages=1, vaddr=addr, flags=f))
img['entries'] = [head] + new_entries
with open(f'{B}/pagemap-{pid}.img', 'wb') as f:
    pycriu.images.dump(img, f)
with open(f"{B}/pages-{head['pages_id']}.img", 'wb') as f:
    f.write(new_pages)
os.symlink('../' + os.path.basename(A.rstrip('/')), f'{B}/parent')
print(f'shared {shared} pages, kept {len(new_pages) // PAGE}, entries {len(new_entries)}')
