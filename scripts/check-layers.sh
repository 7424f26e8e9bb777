#!/bin/sh
# Check that every #include "..." of every module points down the layer
# table below (docs/architecture.md draws it).
#
#   scripts/check-layers.sh [ROOT]      ROOT: default the repository root
#
# Every .c, .h, .cpp and .hpp file of the module folders and every public
# header include/mutorch/X.h (it belongs to the module that owns it) is read.
# A quoted include "mutorch/X.h" names a public header; any other quoted
# include is a private header, resolved relative to the including file's
# folder (it must exist there, and belong to the same folder). System
# headers (<...>) are not checked.
#
# Fails on: an include that does not point down the table (same-layer
# folders never include each other); a header that belongs to no module
# (an include/mutorch/X.h missing from the owners below); a source file
# in a folder that is not in the table; another folder's private header;
# a cycle among headers or among folders.
#
# Exit status: 0 clean (one summary line on stdout), 1 violations (one line
# each on stdout, then a count), 2 usage error or a broken table.
set -eu

# ---- The layer table ---------------------------------------------------
# layer  folder      may include
MT_LAYERS='
0        core
1        shim        core
2        config      core
2        data        shim core
3        killmatrix  core
3        git         core
4        operators   config data shim core
5        mutate      operators killmatrix git config data shim core
6        runner      mutate operators killmatrix git config data shim core
7        cli         runner mutate operators killmatrix git config data shim core
'

# ---- The owner of each public header include/mutorch/X.h ---------------
# (headers may be listed before they exist)
# folder      X
MT_OWNERS='
core          error io rng strbuf csv hash clock recipe zip
shim          shim shim_train shim_graph shim_partial shim_rnn
config        config arch
data          dataset
killmatrix    killmatrix scores report stats stats_sequential stats_inputs
killmatrix    stats_search source_results analysis html_report
git           git
operators     operators view floats source
mutate        plan source_plan
runner        runner pool resultlog mutant modelrun sourcerun run shard mpi
'

# ---- Top-level folders that hold no module (not checked) ----------------
# Hidden folders (.git, .ci) and CMake build trees (a CMakeCache.txt at
# their top) are skipped too; every other folder holding sources must be
# in the table.
MT_NOT_MODULES='tests bench scripts examples'

if [ $# -gt 1 ]; then
	echo "usage: $0 [ROOT]" >&2
	exit 2
fi
root=${1:-$(dirname "$0")/..}
if [ ! -d "$root" ]; then
	echo "$0: $root is not a directory" >&2
	exit 2
fi
cd "$root"

# Every source file below root, one path a line; a folder find cannot read
# gives a line "!unreadable DIR" that the checker turns into an error.
list_sources() {
	for d in *; do
		if [ -d "$d" ]; then
			case " $MT_NOT_MODULES " in *" $d "*) continue ;; esac
			[ -f "$d/CMakeCache.txt" ] && continue
			find "$d" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \
				-o -name '*.hpp' \) -print || printf '!unreadable %s\n' "$d"
		elif [ -f "$d" ]; then
			case "$d" in *.c | *.h | *.cpp | *.hpp) printf '%s\n' "$d" ;; esac
		fi
	done
}

export MT_LAYERS MT_OWNERS MT_NOT_MODULES

status=0
list_sources | LC_ALL=C sort | awk '
function fail(msg) {
	print msg
	nviol++
}

# Parse the table and the owners; check that the table points down.
function load_tables(   n, lines, i, f, k, g, txt) {
	n = split(ENVIRON["MT_LAYERS"], lines, "\n")
	for (i = 1; i <= n; i++) {
		k = split(lines[i], f, /[ \t]+/)
		if (k > 0 && f[1] == "") { for (g = 1; g < k; g++) f[g] = f[g + 1]; k-- }
		if (k == 0) continue
		if (f[1] !~ /^[0-9]+$/ || k < 2) { table_error("bad layer line: " lines[i]) }
		nmods++
		mods[nmods] = f[2]
		layer[f[2]] = f[1] + 0
		txt = ""
		for (g = 3; g <= k; g++) {
			may[f[2], f[g]] = 1
			mayl[f[2], ++nmay[f[2]]] = f[g]
			txt = txt (txt == "" ? "" : ", ") f[g]
		}
		maytxt[f[2]] = txt == "" ? "nothing" : txt
	}
	for (i = 1; i <= nmods; i++) {
		f[1] = mods[i]
		for (g = 1; g <= nmay[f[1]]; g++) {
			k = mayl[f[1], g]
			if (!(k in layer)) table_error(f[1] " may include " k ", which is not in the table")
			if (layer[k] >= layer[f[1]])
				table_error(f[1] " (layer " layer[f[1]] ") may include " k \
					" (layer " layer[k] "): not below it")
		}
	}
	n = split(ENVIRON["MT_OWNERS"], lines, "\n")
	for (i = 1; i <= n; i++) {
		k = split(lines[i], f, /[ \t]+/)
		if (k > 0 && f[1] == "") { for (g = 1; g < k; g++) f[g] = f[g + 1]; k-- }
		if (k == 0) continue
		if (!(f[1] in layer)) table_error("owner " f[1] " is not in the layer table")
		for (g = 2; g <= k; g++) {
			if (f[g] in owner && owner[f[g]] != f[1])
				table_error(f[g] ".h has two owners: " owner[f[g]] " and " f[1])
			owner[f[g]] = f[1]
		}
	}
	modlist = ""
	for (i = 1; i <= nmods; i++) modlist = modlist (i > 1 ? " " : "") mods[i]
}

function table_error(msg) {
	print "check-layers.sh: broken table: " msg > "/dev/stderr"
	broken = 1
	exit 2
}

# The module a file belongs to: its top folder, or the owner of a public
# header; "" outside every module, "?" for an unknown public header.
function module_of(p,   c, n, h) {
	n = split(p, c, "/")
	if (c[1] == "include") {
		if (n == 3 && c[2] == "mutorch" && c[3] ~ /\.h$/) {
			h = substr(c[3], 1, length(c[3]) - 2)
			return (h in owner) ? owner[h] : "?"
		}
		return ""
	}
	if (n >= 2 && (c[1] in layer)) return c[1]
	return ""
}

function is_public(p) { return p ~ /^include\/mutorch\/[^\/]*\.h$/ }
function top(p) { sub(/\/.*$/, "", p); return p }
function dir_of(p) { if (p !~ /\//) return ""; sub(/\/[^\/]*$/, "", p); return p }
function pubname(p) { sub(/^include\/mutorch\//, "", p); sub(/\.h$/, "", p); return p }

# a/b/../c -> a/c; "" when the path leaves the tree
function norm(p,   c, n, i, k, o, out) {
	n = split(p, c, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (c[i] == "" || c[i] == ".") continue
		if (c[i] == "..") { if (k == 0) return ""; k--; continue }
		o[++k] = c[i]
	}
	out = ""
	for (i = 1; i <= k; i++) out = out (i > 1 ? "/" : "") o[i]
	return out
}

# (through "./p": a stream of its own, even when p is the file being read)
function exists(p,   r, tmp) {
	p = "./" p
	r = (getline tmp < p)
	if (r >= 0) close(p)
	return r >= 0
}

function add_node(u) { if (!(u in seen)) { seen[u] = 1; nodes[++nnodes] = u } }

function add_edge(u, v, where) {
	add_node(u); add_node(v)
	if ((u, v) in edge) return
	edge[u, v] = where
	adj[u, ++deg[u]] = v
}

function add_fedge(a, b, where) {
	if ((a, b) in fedge) return
	fedge[a, b] = where
	fadj[a, ++fdeg[a]] = b
}

# depth-first search; a back edge closes a cycle, reported as a path
function dfs(u,   i, v, j, path) {
	color[u] = 1
	stack[++sp] = u
	for (i = 1; i <= deg[u]; i++) {
		v = adj[u, i]
		if (color[v] == 1) {
			for (j = sp; stack[j] != v; j--) ;
			path = ""
			for (; j <= sp; j++) path = path stack[j] " -> "
			fail("include cycle: " path v " (closed by " edge[u, v] ")")
		} else if (!color[v])
			dfs(v)
	}
	sp--
	color[u] = 2
}

function fdfs(a,   i, b, j, path, why) {
	fcolor[a] = 1
	fstack[++fsp] = a
	for (i = 1; i <= fdeg[a]; i++) {
		b = fadj[a, i]
		if (fcolor[b] == 1) {
			for (j = fsp; fstack[j] != b; j--) ;
			path = ""; why = ""
			for (; j <= fsp; j++) {
				path = path fstack[j] " -> "
				why = why (why == "" ? "" : "; ") \
					fedge[fstack[j], j < fsp ? fstack[j + 1] : b]
			}
			fail("folder cycle: " path b " (" why ")")
		} else if (!fcolor[b])
			fdfs(b)
	}
	fsp--
	fcolor[a] = 2
}

function check_file(p,   mod, line, ln, inc, tgt, tmod, pub, what, r) {
	nfiles++
	mod = module_of(p)
	if (mod == "") {
		if (p !~ /\//)
			fail(p ": source file at the top of the tree, outside every module folder" \
				" (module folders: " modlist ")")
		else if (top(p) == "include")
			fail(p ": not a public header include/mutorch/X.h and in no module folder")
		else
			fail(p ": source file in " top(p) "/, a folder that is not in the layer" \
				" table of scripts/check-layers.sh (module folders: " modlist \
				"; not modules: " ENVIRON["MT_NOT_MODULES"] ")")
	} else if (mod == "?")
		fail(p ": public header " pubname(p) ".h belongs to no module: add " \
			pubname(p) " to the owners of include/mutorch/*.h in scripts/check-layers.sh")
	add_node(p)
	ln = 0
	while ((r = (getline line < p)) > 0) {
		ln++
		sub(/\r$/, "", line)
		if (line !~ /^[ \t]*#[ \t]*include[ \t]*"[^"]*"/) continue
		inc = line
		sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc)
		sub(/".*$/, "", inc)
		nincs++
		what = p ":" ln ": includes \"" inc "\""
		if (inc ~ /^mutorch\//) {
			tgt = norm("include/" inc)
		} else {
			tgt = norm((dir_of(p) == "" ? "" : dir_of(p) "/") inc)
			if (tgt == "") { fail(what ", which lies outside the tree"); continue }
			if (!exists(tgt)) {
				fail(what ": no such private header " tgt \
					" (a quoted include other than mutorch/X.h is resolved" \
					" relative to the including file)")
				continue
			}
		}
		pub = is_public(tgt)
		tmod = module_of(tgt)
		add_edge(p, tgt, p ":" ln)
		if (tmod == "?") {
			fail(what ", which belongs to no module: add " pubname(tgt) \
				" to the owners of include/mutorch/*.h in scripts/check-layers.sh")
			continue
		}
		if (tmod == "") {
			fail(what " (" tgt "), which is in no module folder")
			continue
		}
		if (!pub && top(tgt) != top(p)) {
			fail(what ", a private header of " tmod "/ (" tgt "); other folders" \
				" may include only its public headers (mutorch/*.h)")
			if (mod != "" && mod != "?" && mod != tmod) add_fedge(mod, tmod, p ":" ln " includes " inc)
			continue
		}
		if (mod == "" || mod == "?" || tmod == mod) continue
		add_fedge(mod, tmod, p ":" ln " includes " inc)
		if (!((mod, tmod) in may))
			fail(what " of " tmod " (layer " layer[tmod] "); " mod " (layer " \
				layer[mod] ") may include: " maytxt[mod])
	}
	if (r < 0) fail(p ": cannot be read")
	close(p)
}

BEGIN { load_tables() }
/^!unreadable / { sub(/^!unreadable /, ""); unreadable = unreadable " " $0; next }
{ check_file($0) }
END {
	if (broken) exit 2
	if (unreadable != "") {
		print "check-layers.sh: cannot read every file of" unreadable > "/dev/stderr"
		exit 2
	}
	for (i = 1; i <= nnodes; i++) if (!color[nodes[i]]) dfs(nodes[i])
	for (i = 1; i <= nmods; i++) if (!fcolor[mods[i]]) fdfs(mods[i])
	if (nviol) {
		printf "check-layers: %d violation%s (%d files, %d includes checked)\n",
			nviol, nviol == 1 ? "" : "s", nfiles, nincs
		exit 1
	}
	printf "check-layers: %d files, %d includes checked: every include points down the layer table\n",
		nfiles, nincs
}
' || status=$?
exit "$status"
