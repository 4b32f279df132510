#!/usr/bin/env python3
"""cu2c.py: rewrite a CUDA source of kernels/cuda for the CUDA emulator (tests/cudaemu/README.md).

    cu2c.py IN OUT

Three rewrites, each on one line, so that line numbers stay those of IN (a #line directive
names IN, so compiler messages point at the real file):
  - `kernel<<<cfg>>>(args)`  ->  `EMU_LAUNCH(kernel, (cfg), args)` (args may span lines)
  - `dim3 a(x, y), b(z);`    ->  `dim3 a = EMU_DIM3_CTOR(x, y), b = EMU_DIM3_CTOR(z);`
                                 (and `dim3 c;` -> `dim3 c = EMU_DIM3_CTOR(1u);`, CUDA's (1, 1, 1))
  - `extern "C" `            ->  nothing (C linkage is all C has)
Anything else in IN is left as it is; the kernels compile as C against cudaemu.h."""
import os
import re
import sys

LAUNCH = re.compile(r'\b([A-Za-z_]\w*)\s*<<<(.*?)>>>\s*\(')
# a declaration statement: the line starts with the type (a parameter list such as
# `void f(dim3 g, dim3 b)` is left alone)
DIM3 = re.compile(r'\s*(?:(?:static|const|volatile)\s+)*dim3\s+')


def closing(s, i):
    """index of the parenthesis closing the one opened just before s[i]"""
    depth = 1
    while i < len(s):
        if s[i] == '(':
            depth += 1
        elif s[i] == ')':
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise SystemExit('cu2c.py: unbalanced parentheses in: ' + s)


def rewrite_launch(line):
    """only the opening changes: the launch's own closing parenthesis closes EMU_LAUNCH, so
    arguments may run over several lines"""
    def sub(m):
        if line[m.end():].lstrip().startswith(')'):
            raise SystemExit('cu2c.py: a launch without arguments is not supported: ' + line)
        return 'EMU_LAUNCH(%s, (%s), ' % (m.group(1), m.group(2))
    return LAUNCH.sub(sub, line)


def rewrite_dim3(line):
    m = DIM3.match(line)
    # `dim3 g = expr;` is C already (and expr's commas must not split declarators)
    if not m or '=' in line[m.end():].split(';')[0] and '(' not in line[m.end():].split('=')[0]:
        return line
    i, out = m.end(), line[:m.end()]
    while i < len(line):
        d = re.match(r'\s*([A-Za-z_]\w*)\s*', line[i:])
        if not d:
            return line
        name, i = d.group(1), i + d.end()
        if i < len(line) and line[i] == '(':
            end = closing(line, i + 1)
            out += '%s = EMU_DIM3_CTOR(%s)' % (name, line[i + 1:end])
            i = end + 1
        else:
            rest = re.match(r'[^,;]*', line[i:]).group(0)
            out += name + rest
            i += len(rest)
            # `dim3 b;` is (1, 1, 1) in CUDA, an uninitialised struct in C: give it the value
            if not rest.strip() and i < len(line) and line[i] in ',;':
                out += ' = EMU_DIM3_CTOR(1u)'
        if i < len(line) and line[i] == ',':
            out += ', '
            i += 1
            continue
        return out + line[i:]
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        lines = f.read().split('\n')
    out = ['#line 1 "%s"' % src]
    for line in lines:
        line = line.replace('extern "C" ', '')
        if '<<<' in line:
            line = rewrite_launch(line)
        if 'dim3' in line:
            line = rewrite_dim3(line)
        out.append(line)
    tmp = dst + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(out))
    os.replace(tmp, dst)


if __name__ == '__main__':
    main()
