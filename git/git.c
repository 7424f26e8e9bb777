/* The git side of --rev and ci (see git.h), on libgit2. */
#include "mutorch/clock.h"
#include "mutorch/git.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mt_git_repo {
	git_repository *repo;
	char *workdir;
	char *gitdir;
};

struct mt_git_lock {
	int fd;
};

static const char *git_message(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

static int git_fail(int gerr, const char *fmt, const char *arg)
{
	int code = gerr == GIT_ENOTFOUND ? MT_ENOTFOUND : MT_ERROR;
	char what[512];
	snprintf(what, sizeof(what), fmt, arg);
	return mt_error_set(code, "%s: %s", what, git_message());
}

/* A path without its trailing slashes, through realpath when it exists. */
static char *clean_dir(const char *path)
{
	char buf[PATH_MAX];
	char *out = strdup(realpath(path, buf) ? buf : path);
	size_t n;
	if (!out)
		return NULL;
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

int mt_git_repo_open(mt_git_repo **out, const char *path)
{
	mt_git_repo *r = NULL;
	char buf[PATH_MAX], *dir = NULL;
	struct stat st;
	int gerr, error = 0;

	*out = NULL;
	git_libgit2_init();
	/* libgit2 searches from a directory: start at a file's directory. */
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		dir = mt_io_dirname(path);
	else
		dir = strdup(path);
	if (!dir || !(r = calloc(1, sizeof(*r)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((gerr = git_repository_open_ext(&r->repo, dir, 0, NULL)) < 0) {
		if (gerr == GIT_ENOTFOUND)
			error = mt_error_set(MT_ENOTFOUND,
					     "%s is not in a git repository (nor is any parent directory); "
					     "`mutorch ci` and `mutorch run --rev` read commits: run them inside a repository",
					     realpath(dir, buf) ? buf : dir);
		else
			error = git_fail(gerr, "cannot open the git repository at %s", dir);
		goto cleanup;
	}
	if (git_repository_is_bare(r->repo)) {
		error = mt_error_set(MT_EINVALID, "%s: the repository is bare; expected one with a working tree",
				     git_repository_path(r->repo));
		goto cleanup;
	}
	if (!(r->workdir = clean_dir(git_repository_workdir(r->repo))) ||
	    !(r->gitdir = clean_dir(git_repository_commondir(r->repo)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	*out = r;
	r = NULL;
cleanup:
	free(dir);
	mt_git_repo_free(r);
	return error;
}

void mt_git_repo_free(mt_git_repo *r)
{
	if (!r)
		return;
	git_repository_free(r->repo);
	free(r->workdir);
	free(r->gitdir);
	free(r);
	git_libgit2_shutdown();
}

const char *mt_git_workdir(const mt_git_repo *r)
{
	return r->workdir;
}

const char *mt_git_gitdir(const mt_git_repo *r)
{
	return r->gitdir;
}

int mt_git_is_shallow(mt_git_repo *r)
{
	return git_repository_is_shallow(r->repo) == 1;
}

int mt_git_head(char oid[MT_GIT_OID_HEX], char **branch, mt_git_repo *r)
{
	git_reference *head = NULL;
	git_object *commit = NULL;
	int gerr, error = 0;

	*branch = NULL;
	if (git_repository_head_unborn(r->repo) == 1)
		return mt_error_set(MT_ENOTFOUND, "%s: HEAD has no commit yet; commit the config, "
				    "model and data first", r->workdir);
	if ((gerr = git_repository_head(&head, r->repo)) < 0 ||
	    (gerr = git_reference_peel(&commit, head, GIT_OBJECT_COMMIT)) < 0) {
		error = git_fail(gerr, "%s: cannot resolve HEAD", r->workdir);
		goto cleanup;
	}
	git_oid_tostr(oid, MT_GIT_OID_HEX, git_object_id(commit));
	if (git_repository_head_detached(r->repo) != 1 && git_reference_is_branch(head) &&
	    !(*branch = strdup(git_reference_shorthand(head))))
		error = mt_error_oom();
cleanup:
	git_object_free(commit);
	git_reference_free(head);
	return error;
}

int mt_git_resolve(char oid[MT_GIT_OID_HEX], mt_git_repo *r, const char *rev)
{
	git_object *obj = NULL, *commit = NULL;
	int gerr;

	if ((gerr = git_revparse_single(&obj, r->repo, rev)) < 0) {
		git_error_clear();
		return mt_error_set(gerr == GIT_ENOTFOUND || gerr == GIT_EINVALIDSPEC ||
				    gerr == GIT_EAMBIGUOUS ? MT_ENOTFOUND : MT_ERROR,
				    "revision '%s' is not a commit of the repository %s", rev, r->workdir);
	}
	if ((gerr = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT)) < 0) {
		git_object_free(obj);
		return mt_error_set(MT_ENOTFOUND, "revision '%s' names a %s, not a commit", rev,
				    git_object_type2string(git_object_type(obj)));
	}
	git_oid_tostr(oid, MT_GIT_OID_HEX, git_object_id(commit));
	git_object_free(commit);
	git_object_free(obj);
	return 0;
}

static int lookup_commit(git_commit **out, mt_git_repo *r, const char *commit)
{
	git_oid id;
	int gerr;
	if (git_oid_fromstr(&id, commit) < 0)
		return mt_error_set(MT_EINVALID, "'%s' is not a commit id", commit);
	if ((gerr = git_commit_lookup(out, r->repo, &id)) < 0)
		return git_fail(gerr, "cannot read commit %s", commit);
	return 0;
}

int mt_git_parents(size_t *count, int *first_present, mt_git_repo *r, const char *commit)
{
	git_commit *c = NULL, *parent = NULL;
	int error;

	*count = 0;
	*first_present = 0;
	if ((error = lookup_commit(&c, r, commit)) < 0)
		return error;
	*count = git_commit_parentcount(c);
	if (*count > 0 && git_commit_parent(&parent, c, 0) == 0)
		*first_present = 1;
	git_error_clear();
	git_commit_free(parent);
	git_commit_free(c);
	return 0;
}

int mt_git_blob_id(char oid[MT_GIT_OID_HEX], mt_git_repo *r, const char *commit, const char *path)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	int gerr, error;

	if ((error = lookup_commit(&c, r, commit)) < 0)
		return error;
	if ((gerr = git_commit_tree(&tree, c)) < 0) {
		error = git_fail(gerr, "cannot read the tree of commit %s", commit);
		goto cleanup;
	}
	if ((gerr = git_tree_entry_bypath(&entry, tree, path)) < 0 ||
	    git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		git_error_clear();
		error = mt_error_set(MT_ENOTFOUND, "%s is not a file in the tree of commit %.12s",
				     path, commit);
		goto cleanup;
	}
	git_oid_tostr(oid, MT_GIT_OID_HEX, git_tree_entry_id(entry));
cleanup:
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(c);
	return error;
}

int mt_git_blob_read(void **buf, size_t *len, mt_git_repo *r, const char *blob)
{
	git_blob *b = NULL;
	git_oid id;
	int gerr;
	size_t n;

	*buf = NULL;
	*len = 0;
	if (git_oid_fromstr(&id, blob) < 0)
		return mt_error_set(MT_EINVALID, "'%s' is not a blob id", blob);
	if ((gerr = git_blob_lookup(&b, r->repo, &id)) < 0)
		return git_fail(gerr, "cannot read blob %s", blob);
	n = (size_t)git_blob_rawsize(b);
	if (!(*buf = malloc(n + 1))) {
		git_blob_free(b);
		return mt_error_oom();
	}
	memcpy(*buf, git_blob_rawcontent(b), n);
	((char *)*buf)[n] = '\0';
	*len = n;
	git_blob_free(b);
	return 0;
}

static int write_fully(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int mt_git_blob_materialise(char **path, mt_git_repo *r, const char *blob)
{
	char dir[PATH_MAX], final[PATH_MAX + 64], tmp[PATH_MAX + 96];
	void *buf = NULL;
	size_t len;
	int fd = -1, error;

	*path = NULL;
	snprintf(dir, sizeof(dir), "%s/mutorch/blobs", r->gitdir);
	snprintf(final, sizeof(final), "%s/%s", dir, blob);
	if (access(final, R_OK) == 0)
		goto done;
	if ((error = mt_io_mkdirs(dir)) < 0 || (error = mt_git_blob_read(&buf, &len, r, blob)) < 0)
		return error;
	/* A name of our own, then rename: concurrent writers of the same blob
	 * never see a partial file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", final, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0444)) < 0 || write_fully(fd, buf, len) < 0 ||
	    fsync(fd) < 0 || close(fd) < 0 || rename(tmp, final) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		free(buf);
		return error;
	}
	free(buf);
done:
	if (!(*path = strdup(final)))
		return mt_error_oom();
	return 0;
}

void mt_git_strings_free(char **s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static int push_string(char ***list, size_t *n, const char *s)
{
	char **grown;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], s))
			return 0;
	if (!(grown = realloc(*list, sizeof(char *) * (*n + 1))))
		return mt_error_oom();
	*list = grown;
	if (!(grown[*n] = strdup(s)))
		return mt_error_oom();
	(*n)++;
	return 0;
}

int mt_git_diff_paths(char ***changed, size_t *nchanged, mt_git_repo *r, const char *base,
		      const char *head, const char *const *paths, size_t npaths)
{
	git_commit *cb = NULL, *ch = NULL;
	git_tree *tb = NULL, *th = NULL;
	git_diff *diff = NULL;
	git_diff_options opts;
	int gerr, error;

	*changed = NULL;
	*nchanged = 0;
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	if ((error = lookup_commit(&cb, r, base)) < 0 || (error = lookup_commit(&ch, r, head)) < 0)
		goto cleanup;
	if ((gerr = git_commit_tree(&tb, cb)) < 0 || (gerr = git_commit_tree(&th, ch)) < 0) {
		error = git_fail(gerr, "cannot read the trees of %s", base);
		goto cleanup;
	}
	/* Exact paths: a config path is a file name, not a glob. */
	opts.flags = GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	opts.pathspec.strings = (char **)paths;
	opts.pathspec.count = npaths;
	if ((gerr = git_diff_tree_to_tree(&diff, r->repo, tb, th, &opts)) < 0) {
		error = git_fail(gerr, "cannot diff the trees of %s", base);
		goto cleanup;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		if ((error = push_string(changed, nchanged, d->old_file.path)) < 0 ||
		    (error = push_string(changed, nchanged, d->new_file.path)) < 0)
			goto cleanup;
	}
cleanup:
	if (error < 0) {
		mt_git_strings_free(*changed, *nchanged);
		*changed = NULL;
		*nchanged = 0;
	}
	git_diff_free(diff);
	git_tree_free(tb);
	git_tree_free(th);
	git_commit_free(cb);
	git_commit_free(ch);
	return error;
}

int mt_git_dirty_paths(char ***dirty, size_t *ndirty, mt_git_repo *r,
		       const char *const *paths, size_t npaths)
{
	git_status_options opts;
	git_status_list *list = NULL;
	int gerr, error = 0;

	*dirty = NULL;
	*ndirty = 0;
	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES | GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
	opts.pathspec.strings = (char **)paths;
	opts.pathspec.count = npaths;
	if ((gerr = git_status_list_new(&list, r->repo, &opts)) < 0)
		return git_fail(gerr, "cannot read the status of %s", r->workdir);
	for (size_t i = 0; i < git_status_list_entrycount(list); i++) {
		const git_status_entry *e = git_status_byindex(list, i);
		const git_diff_delta *d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
		if (e->status == GIT_STATUS_CURRENT || (e->status & (GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)) ||
		    !d)
			continue;
		if ((error = push_string(dirty, ndirty, d->new_file.path ? d->new_file.path : d->old_file.path)) < 0)
			break;
	}
	if (error < 0) {
		mt_git_strings_free(*dirty, *ndirty);
		*dirty = NULL;
		*ndirty = 0;
	}
	git_status_list_free(list);
	return error;
}

/* The notes ref, when it exists, must point at a commit (git notes makes
 * one per change); anything else was written by hand or by another tool,
 * and libgit2 would fail on it with an internal-looking error. */
static int check_notes_ref(mt_git_repo *r)
{
	git_oid id;
	git_object *obj = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int gerr = git_reference_name_to_id(&id, r->repo, MT_GIT_NOTES_REF), error = 0;

	if (gerr == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (gerr < 0)
		return mt_error_set(MT_EINVALID, "%s cannot be read (%s): repair or delete it "
				    "(git update-ref -d %s; the notes it held are lost)",
				    MT_GIT_NOTES_REF, git_message(), MT_GIT_NOTES_REF);
	git_oid_tostr(hex, sizeof(hex), &id);
	if (git_object_lookup(&obj, r->repo, &id, GIT_OBJECT_ANY) < 0) {
		git_error_clear();
		return mt_error_set(MT_EINVALID, "%s points at %s, which is not in the repository: "
				    "fetch it, or delete the ref (git update-ref -d %s)",
				    MT_GIT_NOTES_REF, hex, MT_GIT_NOTES_REF);
	}
	if (git_object_type(obj) != GIT_OBJECT_COMMIT)
		error = mt_error_set(MT_EINVALID, "%s points at a %s (%s), not at a commit of notes: "
				     "it was not written by git notes; look at it with `git cat-file -p %s` "
				     "and delete the ref (git update-ref -d %s) to start the notes afresh",
				     MT_GIT_NOTES_REF, git_object_type2string(git_object_type(obj)), hex, hex,
				     MT_GIT_NOTES_REF);
	git_object_free(obj);
	return error;
}

int mt_git_note_read(char **text, mt_git_repo *r, const char *commit)
{
	git_note *note = NULL;
	git_oid id;
	int gerr, error;

	*text = NULL;
	if (git_oid_fromstr(&id, commit) < 0)
		return mt_error_set(MT_EINVALID, "'%s' is not a commit id", commit);
	if ((error = check_notes_ref(r)) < 0)
		return error;
	if ((gerr = git_note_read(&note, r->repo, MT_GIT_NOTES_REF, &id)) < 0) {
		if (gerr == GIT_ENOTFOUND) {
			git_error_clear();
			return 0;
		}
		return git_fail(gerr, "cannot read the " MT_GIT_NOTES_REF " note of %s", commit);
	}
	*text = strdup(git_note_message(note) ? git_note_message(note) : "");
	git_note_free(note);
	return *text ? 0 : mt_error_oom();
}

int mt_git_note_write(mt_git_repo *r, const char *commit, const char *text)
{
	git_signature *sig = NULL;
	git_oid id, note_id;
	int gerr = 0, error;

	if (git_oid_fromstr(&id, commit) < 0)
		return mt_error_set(MT_EINVALID, "'%s' is not a commit id", commit);
	if ((error = check_notes_ref(r)) < 0)
		return error;
	if (git_signature_default(&sig, r->repo) < 0) {
		/* CI machines often have no user.name: notes still need one. */
		git_error_clear();
		if (git_signature_now(&sig, "mutorch", "mutorch@localhost") < 0)
			return git_fail(-1, "cannot make a signature for the note of %s", commit);
	}
	/* The notes commit moves the ref only if it still points where it was
	 * read; another writer in between makes it fail: read again, retry. */
	for (int attempt = 0; attempt < 50; attempt++) {
		gerr = git_note_create(&note_id, r->repo, MT_GIT_NOTES_REF, sig, sig, &id, text, 1);
		if (gerr != GIT_EMODIFIED && gerr != GIT_ELOCKED)
			break;
		git_error_clear();
		usleep(100000);
	}
	git_signature_free(sig);
	if (gerr < 0)
		return git_fail(gerr, "cannot write the " MT_GIT_NOTES_REF " note of %s", commit);
	return 0;
}

int mt_git_hooks_dir(char **path, mt_git_repo *r)
{
	git_config *cfg = NULL;
	git_buf buf = GIT_BUF_INIT;
	char tmp[PATH_MAX];

	*path = NULL;
	if (git_repository_config_snapshot(&cfg, r->repo) == 0 &&
	    git_config_get_path(&buf, cfg, "core.hooksPath") == 0 && buf.ptr && *buf.ptr) {
		/* Relative hooksPath is relative to the working tree (git's rule
		 * for non-bare repositories). */
		*path = buf.ptr[0] == '/' ? strdup(buf.ptr) : mt_io_path_join(r->workdir, buf.ptr);
	} else {
		snprintf(tmp, sizeof(tmp), "%s/hooks", r->gitdir);
		*path = strdup(tmp);
	}
	git_error_clear();
	git_buf_dispose(&buf);
	git_config_free(cfg);
	return *path ? 0 : mt_error_oom();
}


int mt_git_lock_acquire(mt_git_lock **out, mt_git_repo *r, const char *name, double wait_seconds)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], holder[32] = "";
	double deadline = mt_clock_now() + (wait_seconds > 0 ? wait_seconds : 0);
	mt_git_lock *lock;
	ssize_t n;
	int fd, error;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/mutorch", r->gitdir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((error = mt_io_mkdirs(dir)) < 0)
		return error;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return mt_error_set(MT_EIO, "%s: cannot open the lock file: %s", path, strerror(errno));
	/* flock, not a create-exclusive file: the kernel drops it when the
	 * holder dies, so a killed run never leaves the repository locked. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error = mt_error_set(MT_EIO, "%s: cannot lock: %s", path, strerror(errno));
			close(fd);
			return error;
		}
		if (mt_clock_now() >= deadline) {
			n = pread(fd, holder, sizeof(holder) - 1, 0);
			holder[n > 0 ? n : 0] = '\0';
			holder[strcspn(holder, "\n")] = '\0';
			close(fd);
			return mt_error_set(MT_ETIMEOUT,
					    "another mutorch run holds %s (pid %s); waited %.0f s. "
					    "Wait for it, or give a longer --wait",
					    path, *holder ? holder : "unknown", wait_seconds);
		}
		usleep(100000);
	}
	snprintf(holder, sizeof(holder), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, holder, strlen(holder), 0) < 0) {
		/* The pid is only for messages; the lock itself is held. */
	}
	if (!(lock = malloc(sizeof(*lock)))) {
		close(fd);
		return mt_error_oom();
	}
	lock->fd = fd;
	*out = lock;
	return 0;
}

void mt_git_lock_release(mt_git_lock *lock)
{
	if (!lock)
		return;
	if (ftruncate(lock->fd, 0) < 0) {
		/* harmless: the next holder overwrites it */
	}
	flock(lock->fd, LOCK_UN);
	close(lock->fd);
	free(lock);
}

void mt_git_commit_infos_free(mt_git_commit_info *commits, size_t n)
{
	if (!commits)
		return;
	for (size_t i = 0; i < n; i++)
		free(commits[i].summary);
	free(commits);
}

int mt_git_first_parent_history(mt_git_commit_info **out, size_t *n, mt_git_repo *r,
				const char *rev, size_t max)
{
	char start[MT_GIT_OID_HEX];
	git_revwalk *walk = NULL;
	mt_git_commit_info *list = NULL;
	size_t count = 0, cap = 0;
	git_oid id;
	int gerr, error;

	*out = NULL;
	*n = 0;
	if ((error = mt_git_resolve(start, r, rev)) < 0)
		return error;
	git_oid_fromstr(&id, start);
	if ((gerr = git_revwalk_new(&walk, r->repo)) < 0 ||
	    (gerr = git_revwalk_simplify_first_parent(walk)) < 0 ||
	    (gerr = git_revwalk_push(walk, &id)) < 0) {
		error = git_fail(gerr, "cannot walk the history of %s", rev);
		goto cleanup;
	}
	while ((max == 0 || count < max) && (gerr = git_revwalk_next(&id, walk)) == 0) {
		git_commit *commit = NULL;
		const char *summary;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			mt_git_commit_info *grown = realloc(list, ncap * sizeof(*list));
			if (!grown) {
				error = mt_error_oom();
				goto cleanup;
			}
			list = grown;
			cap = ncap;
		}
		if ((gerr = git_commit_lookup(&commit, r->repo, &id)) < 0) {
			error = git_fail(gerr, "cannot read a commit in the history of %s", rev);
			goto cleanup;
		}
		git_oid_tostr(list[count].oid, MT_GIT_OID_HEX, &id);
		summary = git_commit_summary(commit);
		list[count].summary = strdup(summary ? summary : "");
		list[count].time = (long long)git_commit_time(commit);
		git_commit_free(commit);
		if (!list[count++].summary) {
			error = mt_error_oom();
			goto cleanup;
		}
	}
	if (gerr < 0 && gerr != GIT_ITEROVER) {
		error = git_fail(gerr, "cannot walk the history of %s", rev);
		goto cleanup;
	}
	*out = list;
	*n = count;
	list = NULL;
	count = 0;
cleanup:
	mt_git_commit_infos_free(list, count);
	git_revwalk_free(walk);
	return error;
}
