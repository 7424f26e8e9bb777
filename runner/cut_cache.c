/* The worker's cuts (see cut_cache.h). A worker serves mutants in plan
 * order, which visits every layer once per operator entry: keeping every
 * cut (within the budget, the least recently used dropped first) builds
 * each cut once per worker, and each new cut is filled from the latest
 * cut before it, so that all of them cost about one forward pass. */
#include "cut_cache.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"

#define MAX_CUTS 256

typedef struct {
	char *key;
	mt_partial *partial;
	uint64_t last_use;
} cached_cut;

struct mt_cut_cache {
	cached_cut cuts[MAX_CUTS];
	uint64_t clock;
	size_t budget;
};

int mt_cut_cache_new(mt_cut_cache **out, size_t budget_bytes)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return mt_error_oom();
	(*out)->budget = budget_bytes;
	return 0;
}

static void cut_drop(cached_cut *c)
{
	free(c->key);
	mt_partial_free(c->partial);
	memset(c, 0, sizeof(*c));
}

void mt_cut_cache_free(mt_cut_cache *cc)
{
	if (!cc)
		return;
	for (int i = 0; i < MAX_CUTS; i++)
		cut_drop(&cc->cuts[i]);
	free(cc);
}

/* The least recently used cut, or -1 when none. */
static int cut_victim(const mt_cut_cache *cc)
{
	int victim = -1;
	for (int i = 0; i < MAX_CUTS; i++)
		if (cc->cuts[i].key &&
		    (victim < 0 || cc->cuts[i].last_use < cc->cuts[victim].last_use))
			victim = i;
	return victim;
}

/* Fill p's cache from the latest cached cut at or before it, or from the
 * inputs, within what the other cuts leave of the budget; when that is too
 * little, drop the least recently used cuts and try again. */
static int cut_fill(mt_cut_cache *cc, mt_partial *p, const mt_tensor *x, int64_t batch)
{
	for (;;) {
		const mt_partial *from = NULL;
		size_t total = 0, budget;
		int error, victim;
		for (int i = 0; i < MAX_CUTS; i++) {
			const mt_partial *c = cc->cuts[i].partial;
			if (!c)
				continue;
			total += mt_partial_cache_bytes(c);
			if (mt_partial_cut_index(c) <= mt_partial_cut_index(p) &&
			    (!from || mt_partial_cut_index(c) > mt_partial_cut_index(from)))
				from = c;
		}
		budget = total < cc->budget ? cc->budget - total : 1;
		error = from ? mt_partial_cache_from(p, from, x, budget) : MT_EINVALID;
		if (error < 0 && error != MT_ENOMEM)
			error = mt_partial_cache(p, x, batch, budget);
		if (error != MT_ENOMEM || (victim = cut_victim(cc)) < 0)
			return error;
		cut_drop(&cc->cuts[victim]);
	}
}

mt_partial *mt_cut_cache_get(mt_cut_cache *cc, mt_module *m, const mt_tensor *x,
			     const char *const *names, size_t n, int64_t batch)
{
	char key[4096] = ";";
	size_t used = 1;
	int slot = -1;
	mt_partial *p = NULL;

	/* Keyed by the layers (the part before the last '.'), not the
	 * tensors: a mutant of conv1.weight and one of conv1.weight and
	 * conv1.bias cut at the same node and share the cache. */
	for (size_t i = 0; i < n; i++) {
		const char *dot = strrchr(names[i], '.');
		int len = dot ? (int)(dot - names[i]) : (int)strlen(names[i]);
		char layer[512];
		snprintf(layer, sizeof(layer), ";%.*s;", len, names[i]);
		if (!strstr(key, layer)) /* ";conv1;" is not in ";a.conv1;" */
			used += (size_t)snprintf(key + used, used < sizeof(key) ? sizeof(key) - used : 0,
						 "%s", layer + 1);
	}
	for (int i = 0; i < MAX_CUTS; i++)
		if (cc->cuts[i].key && !strcmp(cc->cuts[i].key, key)) {
			cc->cuts[i].last_use = ++cc->clock;
			return cc->cuts[i].partial;
		}
	if (mt_partial_new(&p, m, names, n) < 0 || cut_fill(cc, p, x, batch) < 0) {
		mt_partial_free(p);
		return NULL;
	}
	for (int i = 0; i < MAX_CUTS && slot < 0; i++)
		if (!cc->cuts[i].key)
			slot = i;
	if (slot < 0) {
		slot = cut_victim(cc);
		cut_drop(&cc->cuts[slot]);
	}
	if (!(cc->cuts[slot].key = strdup(key))) {
		mt_partial_free(p);
		return NULL;
	}
	cc->cuts[slot].partial = p;
	cc->cuts[slot].last_use = ++cc->clock;
	return p;
}

size_t mt_cut_cache_count(const mt_cut_cache *cc)
{
	size_t n = 0;
	for (int i = 0; i < MAX_CUTS; i++)
		n += cc->cuts[i].key != NULL;
	return n;
}

size_t mt_cut_cache_bytes(const mt_cut_cache *cc)
{
	size_t bytes = 0;
	for (int i = 0; i < MAX_CUTS; i++)
		if (cc->cuts[i].partial)
			bytes += mt_partial_cache_bytes(cc->cuts[i].partial);
	return bytes;
}
