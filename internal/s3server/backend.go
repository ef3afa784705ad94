package s3server

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// diskBackend keeps buckets, objects and multipart uploads in a directory:
//
//	buckets/<bucket>/bucket.json               creation time, owning account
//	buckets/<bucket>/<sha256(key)>.json        object metadata (key, size, MD5, ETag, headers, data file)
//	buckets/<bucket>/<sha256(key)>.<rand>.data object content
//	uploads/<uploadID>/upload.json             bucket, key, headers, initiation time
//	uploads/<uploadID>/<part>-<md5>.part       one uploaded part
//	tmp/                                       bodies being received
//
// Keys are stored under a hash, so any S3 key works ("a" and "a/b" together,
// "..", very long keys) and the directory cannot be escaped.
//
// Bodies stream into tmp/ without any lock held, then are renamed into place
// under the lock: a failed or interrupted upload never shows a partial
// object, and a replaced object changes atomically (the metadata file names
// its data file, and is itself replaced by rename). A crash can leave an
// orphan data file, which open removes.
//
// Everything on disk is also indexed in memory, built by open; the index is
// the source of truth for listings while the server runs.
//
// Every bucket belongs to one account. Each operation names the account it
// acts for and is refused with AccessDenied on another account's bucket;
// the check is made under the lock that the operation's change takes, so
// a bucket deleted and re-created by another account in the meantime is
// never written. accountBackend adapts it to gofakes3 for one caller.
type diskBackend struct {
	root string
	now  func() time.Time

	mu      sync.RWMutex
	buckets map[string]*diskBucket
	uploads map[gofakes3.UploadID]*diskUpload
}

type diskBucket struct {
	created time.Time
	owner   string // account ID
	objects map[string]*objectMeta
}

// bucketInfo is bucket.json.
type bucketInfo struct {
	Created time.Time `json:"created"`
	// Owner is the account that created the bucket. Buckets written before
	// owners were recorded get the server's account when loaded.
	Owner string `json:"owner,omitempty"`
}

// objectMeta is stored as JSON beside each object's data.
type objectMeta struct {
	Key  string `json:"key"`
	Data string `json:"data"`
	Size int64  `json:"size"`
	MD5  []byte `json:"md5"`
	// ETag is S3's ETag without quotes when it is not the MD5 of the
	// content: "<md5 of the parts' MD5s>-<parts>" for a multipart upload.
	ETag    string            `json:"etag,omitempty"`
	ModTime time.Time         `json:"mod_time"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// diskUpload is stored as JSON in each upload's directory.
type diskUpload struct {
	ID        gofakes3.UploadID `json:"id"`
	Bucket    string            `json:"bucket"`
	Key       string            `json:"key"`
	Meta      map[string]string `json:"meta,omitempty"`
	Initiated time.Time         `json:"initiated"`

	completing bool
}

const (
	dirMode  = 0o755
	fileMode = 0o644
)

// openDiskBackend creates dir's layout if needed, loads the index and removes
// what an earlier crash left half-written. Buckets without a recorded owner
// are given defaultOwner, durably.
func openDiskBackend(dir string, now func() time.Time, defaultOwner string) (*diskBackend, error) {
	b := &diskBackend{
		root:    dir,
		now:     now,
		buckets: map[string]*diskBucket{},
		uploads: map[gofakes3.UploadID]*diskUpload{},
	}
	if err := os.RemoveAll(b.tmpDir()); err != nil {
		return nil, err
	}
	for _, d := range []string{b.tmpDir(), filepath.Join(dir, "buckets"), filepath.Join(dir, "uploads")} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, err
		}
	}
	if err := b.loadBuckets(defaultOwner); err != nil {
		return nil, err
	}
	if err := b.loadUploads(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *diskBackend) tmpDir() string               { return filepath.Join(b.root, "tmp") }
func (b *diskBackend) bucketDir(name string) string { return filepath.Join(b.root, "buckets", name) }
func (b *diskBackend) uploadDir(id gofakes3.UploadID) string {
	return filepath.Join(b.root, "uploads", string(id))
}

func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p) // never fails (crypto/rand docs)
	return hex.EncodeToString(p)
}

func (b *diskBackend) loadBuckets(defaultOwner string) error {
	entries, err := os.ReadDir(filepath.Join(b.root, "buckets"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || gofakes3.ValidateBucketName(e.Name()) != nil {
			continue
		}
		dir := b.bucketDir(e.Name())
		bk := &diskBucket{objects: map[string]*objectMeta{}}
		var info bucketInfo
		if err := readJSON(filepath.Join(dir, "bucket.json"), &info); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("load bucket %s: %w", e.Name(), err)
			}
			if fi, err := e.Info(); err == nil {
				info.Created = fi.ModTime().UTC()
			}
		}
		if info.Owner == "" {
			// Written before owners were recorded: the server's account's
			// from now on, even if account_id changes later.
			info.Owner = defaultOwner
			if err := b.writeJSON(filepath.Join(dir, "bucket.json"), info); err != nil {
				return fmt.Errorf("record the owner of bucket %s: %w", e.Name(), err)
			}
		}
		bk.created, bk.owner = info.Created, info.Owner
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		referenced := map[string]bool{}
		for _, f := range files {
			name := f.Name()
			if name == "bucket.json" || !strings.HasSuffix(name, ".json") {
				continue
			}
			var m objectMeta
			if err := readJSON(filepath.Join(dir, name), &m); err != nil {
				return fmt.Errorf("load object %s/%s: %w", e.Name(), name, err)
			}
			bk.objects[m.Key] = &m
			referenced[m.Data] = true
		}
		for _, f := range files {
			if name := f.Name(); strings.HasSuffix(name, ".data") && !referenced[name] {
				_ = os.Remove(filepath.Join(dir, name)) // orphan of an interrupted replace
			}
		}
		b.buckets[e.Name()] = bk
	}
	return nil
}

func (b *diskBackend) loadUploads() error {
	entries, err := os.ReadDir(filepath.Join(b.root, "uploads"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		var u diskUpload
		if err := readJSON(filepath.Join(b.uploadDir(gofakes3.UploadID(e.Name())), "upload.json"), &u); err != nil {
			// Created but never described: nothing refers to it.
			_ = os.RemoveAll(b.uploadDir(gofakes3.UploadID(e.Name())))
			continue
		}
		b.uploads[u.ID] = &u
	}
	return nil
}

func readJSON(path string, v any) error {
	p, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, v)
}

// writeJSON replaces path atomically.
func (b *diskBackend) writeJSON(path string, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(b.tmpDir(), "meta-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(p); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// receive streams r into a new file under tmp/ and returns its path, size
// and MD5. want >= 0 is the size the client announced; a different size is
// ErrIncompleteBody. On error nothing is left behind. Errors from r are
// returned as they are, so that a gofakes3 error code (BadDigest from the
// chunk decoder) reaches the client.
func (b *diskBackend) receive(r io.Reader, want int64) (path string, size int64, sum []byte, err error) {
	f, err := os.CreateTemp(b.tmpDir(), "body-*")
	if err != nil {
		return "", 0, nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := md5.New()
	size, err = io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", 0, nil, err
	}
	if want >= 0 && size != want {
		return "", 0, nil, gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "got %d bytes, expected %d", size, want)
	}
	if err = f.Sync(); err != nil {
		return "", 0, nil, err
	}
	if err = f.Close(); err != nil {
		return "", 0, nil, err
	}
	return f.Name(), size, h.Sum(nil), nil
}

// errAccessDenied is S3's answer to an operation on another account's
// bucket, whether or not the object exists.
func errAccessDenied() error {
	return gofakes3.ErrorMessage(codeAccessDenied, "Access Denied")
}

// bucketLocked returns the bucket that account may use: NoSuchBucket when
// there is none, AccessDenied when another account owns it. The caller
// holds b.mu.
func (b *diskBackend) bucketLocked(account, name string) (*diskBucket, error) {
	bk := b.buckets[name]
	if bk == nil {
		return nil, gofakes3.BucketNotFound(name)
	}
	if bk.owner != account {
		return nil, errAccessDenied()
	}
	return bk, nil
}

// checkBucket is bucketLocked under the read lock.
func (b *diskBackend) checkBucket(account, name string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, err := b.bucketLocked(account, name)
	return err
}

// bucketOwner returns the owner of bucket name, and false when there is
// no such bucket.
func (b *diskBackend) bucketOwner(name string) (string, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if bk := b.buckets[name]; bk != nil {
		return bk.owner, true
	}
	return "", false
}

// newObject describes an object about to be committed.
type newObject struct {
	tmp  string // received content, removed by commitObject whatever happens
	size int64
	md5  []byte
	etag string // objectMeta.ETag
	meta map[string]string
}

// commitObject moves the received file o.tmp into place as bucket/key for
// account and indexes it. It removes o.tmp on failure. The caller must not
// hold b.mu.
func (b *diskBackend) commitObject(account, bucket, key string, o newObject, conditions *gofakes3.PutConditions) error {
	if err := checkKey(key); err != nil {
		os.Remove(o.tmp)
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucketLocked(account, bucket)
	if err != nil {
		os.Remove(o.tmp)
		return err
	}
	old := bk.objects[key]
	if conditions != nil {
		info := &gofakes3.ConditionalObjectInfo{}
		if old != nil {
			info.Exists, info.Hash = true, old.MD5
		}
		if err := gofakes3.CheckPutConditions(conditions, info); err != nil {
			os.Remove(o.tmp)
			return err
		}
	}
	h := keyHash(key)
	m := &objectMeta{
		Key:     key,
		Data:    h + "." + randomHex(8) + ".data",
		Size:    o.size,
		MD5:     o.md5,
		ETag:    o.etag,
		ModTime: b.now().UTC(),
		Meta:    storedMeta(o.meta),
	}
	dir := b.bucketDir(bucket)
	if err := os.Rename(o.tmp, filepath.Join(dir, m.Data)); err != nil {
		os.Remove(o.tmp)
		return err
	}
	if err := b.writeJSON(filepath.Join(dir, h+".json"), m); err != nil {
		os.Remove(filepath.Join(dir, m.Data))
		return err
	}
	bk.objects[key] = m
	if old != nil {
		_ = os.Remove(filepath.Join(dir, old.Data))
	}
	return nil
}

// etag is the object's S3 ETag, quoted.
func (m *objectMeta) etag() string {
	if m.ETag != "" {
		return `"` + m.ETag + `"`
	}
	return gofakes3.FormatETag(m.MD5)
}

// listBuckets returns account's buckets by name.
func (b *diskBackend) listBuckets(account string) []gofakes3.BucketInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]gofakes3.BucketInfo, 0, len(b.buckets))
	for name, bk := range b.buckets {
		if bk.owner == account {
			out = append(out, gofakes3.BucketInfo{Name: name, CreationDate: gofakes3.NewContentTime(bk.created)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// listBucket lists account's bucket name, paging included.
func (b *diskBackend) listBucket(account, name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucketLocked(account, name)
	if err != nil {
		return nil, err
	}
	// A marker ending in the delimiter is a common prefix returned by the
	// previous page: everything under it was already rolled up.
	markerIsPrefix := prefix.HasDelimiter && page.Marker != "" && strings.HasSuffix(page.Marker, prefix.Delimiter)
	keys := make([]string, 0, len(bk.objects))
	for k := range bk.objects {
		if page.Marker != "" && (k <= page.Marker || markerIsPrefix && strings.HasPrefix(k, page.Marker)) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)

	out := gofakes3.NewObjectList()
	var match gofakes3.PrefixMatch
	var count int64
	last := ""
	for _, k := range keys {
		if !prefix.Match(k, &match) {
			continue
		}
		entry := k
		if match.CommonPrefix {
			if match.MatchedPart == last {
				continue
			}
			entry = match.MatchedPart
		}
		if page.MaxKeys > 0 && count >= page.MaxKeys {
			out.IsTruncated = true
			out.NextMarker = last
			break
		}
		if match.CommonPrefix {
			out.AddPrefix(entry)
		} else {
			m := bk.objects[k]
			out.Add(&gofakes3.Content{
				Key:          k,
				LastModified: gofakes3.NewContentTime(m.ModTime),
				ETag:         m.etag(),
				Size:         m.Size,
				StorageClass: gofakes3.StorageStandard,
			})
		}
		last = entry
		count++
	}
	return out, nil
}

// createBucket creates bucket name owned by account. An existing bucket is
// BucketAlreadyOwnedByYou when account owns it, else BucketAlreadyExists.
func (b *diskBackend) createBucket(account, name string) error {
	if err := gofakes3.ValidateBucketName(name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if bk := b.buckets[name]; bk != nil {
		if bk.owner == account {
			return gofakes3.ResourceError(codeBucketAlreadyOwnedByYou, name)
		}
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	created := b.now().UTC()
	dir := b.bucketDir(name)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if err := b.writeJSON(filepath.Join(dir, "bucket.json"), bucketInfo{Created: created, Owner: account}); err != nil {
		os.RemoveAll(dir)
		return err
	}
	b.buckets[name] = &diskBucket{created: created, owner: account, objects: map[string]*objectMeta{}}
	return nil
}

// deleteBucket deletes account's empty bucket name and its uploads.
func (b *diskBackend) deleteBucket(account, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucketLocked(account, name)
	if err != nil {
		return err
	}
	if len(bk.objects) > 0 {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	if err := os.RemoveAll(b.bucketDir(name)); err != nil {
		return err
	}
	delete(b.buckets, name)
	for id, u := range b.uploads {
		if u.Bucket == name {
			_ = os.RemoveAll(b.uploadDir(id))
			delete(b.uploads, id)
		}
	}
	return nil
}

func (b *diskBackend) lookupLocked(account, bucket, key string) (*objectMeta, error) {
	bk, err := b.bucketLocked(account, bucket)
	if err != nil {
		return nil, err
	}
	m := bk.objects[key]
	if m == nil {
		return nil, gofakes3.KeyNotFound(key)
	}
	return m, nil
}

// getObject opens account's bucket/key. The file is opened under the lock,
// so a concurrent replace (which unlinks the old data) cannot break it.
func (b *diskBackend) getObject(account, bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	m, err := b.lookupLocked(account, bucket, key)
	if err != nil {
		return nil, err
	}
	r, err := rng.Range(m.Size)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(b.bucketDir(bucket), m.Data))
	if err != nil {
		return nil, err
	}
	var body io.ReadCloser = f
	if r != nil {
		body = &sectionReadCloser{Reader: io.NewSectionReader(f, r.Start, r.Length), Closer: f}
	}
	return &gofakes3.Object{
		Name:     key,
		Metadata: responseMeta(m),
		Size:     m.Size,
		Contents: body,
		Hash:     m.MD5,
		Range:    r,
	}, nil
}

type sectionReadCloser struct {
	io.Reader
	io.Closer
}

// headObject describes account's bucket/key.
func (b *diskBackend) headObject(account, bucket, key string) (*gofakes3.Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	m, err := b.lookupLocked(account, bucket, key)
	if err != nil {
		return nil, err
	}
	return &gofakes3.Object{
		Name:     key,
		Metadata: responseMeta(m),
		Size:     m.Size,
		Contents: io.NopCloser(strings.NewReader("")),
		Hash:     m.MD5,
	}, nil
}

// deleteObject deletes account's bucket/key. A missing key is not an error.
func (b *diskBackend) deleteObject(account, bucket, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucketLocked(account, bucket)
	if err != nil {
		return err
	}
	return b.deleteLocked(bk, bucket, key)
}

func (b *diskBackend) deleteLocked(bk *diskBucket, bucket, key string) error {
	m := bk.objects[key]
	if m == nil {
		return nil
	}
	dir := b.bucketDir(bucket)
	if err := os.Remove(filepath.Join(dir, keyHash(key)+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	delete(bk.objects, key)
	_ = os.Remove(filepath.Join(dir, m.Data))
	return nil
}

// deleteMulti deletes keys of account's bucket.
func (b *diskBackend) deleteMulti(account, bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var res gofakes3.MultiDeleteResult
	bk, err := b.bucketLocked(account, bucket)
	if err != nil {
		return res, err
	}
	for _, k := range keys {
		if err := b.deleteLocked(bk, bucket, k); err != nil {
			res.Error = append(res.Error, gofakes3.ErrorResultFromError(err))
			continue
		}
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: k})
	}
	return res, nil
}

// putObject streams input to a temporary file with no lock held, then
// replaces account's bucket/key atomically. size >= 0 is the length the
// client announced.
func (b *diskBackend) putObject(account, bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	// Refuse early, before a large body is received; commitObject checks
	// again under the lock.
	if err := b.checkBucket(account, bucket); err != nil {
		return err
	}
	tmp, n, sum, err := b.receive(input, size)
	if err != nil {
		return err
	}
	return b.commitObject(account, bucket, key, newObject{tmp: tmp, size: n, md5: sum, meta: meta}, conditions)
}

// createMultipartUpload begins an upload into account's bucket.
func (b *diskBackend) createMultipartUpload(account, bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.bucketLocked(account, bucket); err != nil {
		return "", err
	}
	u := &diskUpload{
		ID:        gofakes3.UploadID(randomHex(16)),
		Bucket:    bucket,
		Key:       key,
		Meta:      storedMeta(meta),
		Initiated: b.now().UTC(),
	}
	dir := b.uploadDir(u.ID)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return "", err
	}
	if err := b.writeJSON(filepath.Join(dir, "upload.json"), u); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	b.uploads[u.ID] = u
	return u.ID, nil
}

// uploadLocked returns upload id of account's bucket/key; the caller holds
// b.mu.
func (b *diskBackend) uploadLocked(account, bucket, key string, id gofakes3.UploadID) (*diskUpload, error) {
	if _, err := b.bucketLocked(account, bucket); err != nil {
		return nil, err
	}
	u := b.uploads[id]
	if u == nil || u.completing || u.Bucket != bucket || u.Key != key {
		return nil, gofakes3.ErrNoSuchUpload
	}
	return u, nil
}

// partFile is one stored part: "<number>-<md5 hex>.part".
type partFile struct {
	number int
	etag   string
	name   string
	size   int64
	mtime  time.Time
}

func (b *diskBackend) partsLocked(id gofakes3.UploadID) (map[int]partFile, error) {
	entries, err := os.ReadDir(b.uploadDir(id))
	if err != nil {
		return nil, err
	}
	parts := map[int]partFile{}
	for _, e := range entries {
		var n int
		name := e.Name()
		if !strings.HasSuffix(name, ".part") {
			continue
		}
		num, tag, ok := strings.Cut(strings.TrimSuffix(name, ".part"), "-")
		if !ok {
			continue
		}
		if _, err := fmt.Sscanf(num, "%d", &n); err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		parts[n] = partFile{number: n, etag: tag, name: name, size: fi.Size(), mtime: fi.ModTime()}
	}
	return parts, nil
}

// uploadPart stores a part of an upload of account's bucket/key. The part
// streams to disk; uploading a part number again replaces it.
func (b *diskBackend) uploadPart(account, bucket, key string, id gofakes3.UploadID, number int, contentLength int64, input io.Reader) (string, error) {
	b.mu.RLock()
	_, err := b.uploadLocked(account, bucket, key, id)
	b.mu.RUnlock()
	if err != nil {
		return "", err
	}
	tmp, _, sum, err := b.receive(input, contentLength)
	if err != nil {
		return "", err
	}
	etag := hex.EncodeToString(sum)

	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.uploadLocked(account, bucket, key, id); err != nil {
		os.Remove(tmp)
		return "", err
	}
	parts, err := b.partsLocked(id)
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	name := fmt.Sprintf("%05d-%s.part", number, etag)
	if err := os.Rename(tmp, filepath.Join(b.uploadDir(id), name)); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if old, ok := parts[number]; ok && old.name != name {
		_ = os.Remove(filepath.Join(b.uploadDir(id), old.name))
	}
	return `"` + etag + `"`, nil
}

// listMultipartUploads lists the uploads of account's bucket, sorted by
// key, then by initiation time.
func (b *diskBackend) listMultipartUploads(account, bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if _, err := b.bucketLocked(account, bucket); err != nil {
		return nil, err
	}
	var ups []*diskUpload
	for _, u := range b.uploads {
		if u.Bucket == bucket && !u.completing {
			ups = append(ups, u)
		}
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].Key != ups[j].Key {
			return ups[i].Key < ups[j].Key
		}
		if !ups[i].Initiated.Equal(ups[j].Initiated) {
			return ups[i].Initiated.Before(ups[j].Initiated)
		}
		return ups[i].ID < ups[j].ID
	})

	res := &gofakes3.ListMultipartUploadsResult{
		Bucket:     bucket,
		MaxUploads: limit,
		Prefix:     prefix.Prefix,
		Delimiter:  prefix.Delimiter,
	}
	if marker != nil {
		res.KeyMarker, res.UploadIDMarker = marker.Object, marker.UploadID
	}
	afterMarker := marker == nil || marker.UploadID == ""
	var match gofakes3.PrefixMatch
	var count int64
	for _, u := range ups {
		if marker != nil {
			switch {
			case u.Key < marker.Object:
				continue
			case u.Key == marker.Object:
				if !afterMarker {
					if u.ID == marker.UploadID {
						afterMarker = true
					}
					continue
				}
				if marker.UploadID == "" {
					continue
				}
			}
		}
		if !prefix.Match(u.Key, &match) {
			continue
		}
		if limit > 0 && count >= limit {
			res.IsTruncated = true
			break
		}
		if match.CommonPrefix {
			if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1].Prefix == match.MatchedPart {
				continue
			}
			res.CommonPrefixes = append(res.CommonPrefixes, match.AsCommonPrefix())
		} else {
			res.Uploads = append(res.Uploads, gofakes3.ListMultipartUploadItem{
				Key:          u.Key,
				UploadID:     u.ID,
				StorageClass: gofakes3.StorageStandard,
				Initiated:    gofakes3.NewContentTime(u.Initiated),
			})
		}
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}

// listParts lists the parts of an upload of account's bucket/key.
func (b *diskBackend) listParts(account, bucket, key string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if _, err := b.uploadLocked(account, bucket, key, id); err != nil {
		return nil, err
	}
	parts, err := b.partsLocked(id)
	if err != nil {
		return nil, err
	}
	nums := make([]int, 0, len(parts))
	for n := range parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := &gofakes3.ListMultipartUploadPartsResult{
		Bucket:           bucket,
		Key:              key,
		UploadID:         id,
		StorageClass:     gofakes3.StorageStandard,
		PartNumberMarker: marker,
		MaxParts:         limit,
	}
	for i, n := range nums {
		if limit > 0 && int64(i) >= limit {
			res.IsTruncated = true
			break
		}
		p := parts[n]
		res.Parts = append(res.Parts, gofakes3.ListMultipartUploadPartItem{
			PartNumber:   n,
			LastModified: gofakes3.NewContentTime(p.mtime),
			ETag:         `"` + p.etag + `"`,
			Size:         p.size,
		})
		res.NextPartNumberMarker = n
	}
	return res, nil
}

// abortMultipartUpload discards an upload of account's bucket/key.
func (b *diskBackend) abortMultipartUpload(account, bucket, key string, id gofakes3.UploadID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.uploadLocked(account, bucket, key, id); err != nil {
		return err
	}
	if err := os.RemoveAll(b.uploadDir(id)); err != nil {
		return err
	}
	delete(b.uploads, id)
	return nil
}

// completeMultipartUpload concatenates the parts file to file (never in
// memory) into a temporary file, which then replaces account's bucket/key
// like a PutObject. The ETag, returned and kept for GET, HEAD and LIST, is
// S3's "<md5 of the concatenated binary part MD5s>-<number of parts>".
func (b *diskBackend) completeMultipartUpload(account, bucket, key string, id gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (string, error) {
	b.mu.Lock()
	u, err := b.uploadLocked(account, bucket, key, id)
	if err != nil {
		b.mu.Unlock()
		return "", err
	}
	parts, err := b.partsLocked(id)
	if err != nil {
		b.mu.Unlock()
		return "", err
	}
	if len(in.Parts) == 0 {
		b.mu.Unlock()
		return "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: it lists no parts.")
	}
	var files []partFile
	last := 0
	for _, p := range in.Parts {
		if p.PartNumber <= last {
			b.mu.Unlock()
			return "", gofakes3.ErrorMessage(gofakes3.ErrInvalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		last = p.PartNumber
		pf, ok := parts[p.PartNumber]
		if !ok || strings.Trim(p.ETag, `"`) != pf.etag {
			b.mu.Unlock()
			return "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "One or more of the specified parts could not be found: part %d is missing or its ETag does not match.", p.PartNumber)
		}
		files = append(files, pf)
	}
	u.completing = true // parts can no longer change
	b.mu.Unlock()

	o, err := b.concat(id, files)
	if err == nil {
		o.meta = u.Meta
		err = b.commitObject(account, bucket, key, o, nil)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		u.completing = false
		return "", err
	}
	delete(b.uploads, id)
	_ = os.RemoveAll(b.uploadDir(id))
	return `"` + o.etag + `"`, nil
}

func (b *diskBackend) concat(id gofakes3.UploadID, files []partFile) (newObject, error) {
	readers := make([]io.Reader, 0, len(files))
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	etags := md5.New()
	for _, p := range files {
		f, err := os.Open(filepath.Join(b.uploadDir(id), p.name))
		if err != nil {
			return newObject{}, err
		}
		closers = append(closers, f)
		readers = append(readers, f)
		raw, _ := hex.DecodeString(p.etag)
		etags.Write(raw)
	}
	tmp, size, sum, err := b.receive(io.MultiReader(readers...), -1)
	if err != nil {
		return newObject{}, err
	}
	return newObject{
		tmp:  tmp,
		size: size,
		md5:  sum,
		etag: fmt.Sprintf("%s-%d", hex.EncodeToString(etags.Sum(nil)), len(files)),
	}, nil
}
