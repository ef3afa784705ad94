package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

// maxListing is how many entries one level of the object browser shows.
const maxListing = 1000

// objectsView is the data of the object browser.
type objectsView struct {
	Bucket, Prefix string
	Buckets        []string
	// Crumbs lead from the bucket to Prefix.
	Crumbs  []crumb
	Listing Listing
}

type crumb struct{ Name, Prefix string }

func (c *Console) objectsPage(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.p.Objects == nil {
		c.message(w, r, sess, http.StatusNotFound, "No object browser", "Objects are in an external S3 server: browse them there.")
		return
	}
	q := r.URL.Query()
	v := objectsView{Bucket: q.Get("bucket"), Prefix: q.Get("prefix")}
	p := page{Title: "Objects", Session: sess}
	if v.Bucket == "" {
		b, err := c.p.Objects.Buckets(r.Context())
		if err != nil {
			p.Error = c.shownError(r, err)
		}
		v.Buckets = b
		p.Data = v
		c.render(w, http.StatusOK, "objects", p)
		return
	}
	p.Title = "s3://" + v.Bucket + "/" + v.Prefix
	l, err := c.p.Objects.List(r.Context(), v.Bucket, v.Prefix, maxListing)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			// Another account's bucket looks like a missing one.
			status = http.StatusNotFound
			err = export.Errorf("NoSuchBucket", "The bucket %s does not exist or is not yours.", v.Bucket)
		}
		p.Error = c.shownError(r, err)
		p.Data = v
		c.render(w, status, "objects", p)
		return
	}
	v.Listing = l
	acc := ""
	for part := range strings.SplitSeq(strings.TrimSuffix(v.Prefix, "/"), "/") {
		if part == "" {
			continue
		}
		acc += part + "/"
		v.Crumbs = append(v.Crumbs, crumb{Name: part, Prefix: acc})
	}
	p.Data = v
	c.render(w, http.StatusOK, "objects", p)
}

// download sends an object as an attachment of opaque type, whatever its
// name or content: an exported file must never run as a page of the
// console's origin.
func (c *Console) download(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.p.Objects == nil {
		c.message(w, r, sess, http.StatusNotFound, "No object browser", "Objects are in an external S3 server: download them there.")
		return
	}
	q := r.URL.Query()
	body, size, err := c.p.Objects.Open(r.Context(), q.Get("bucket"), q.Get("key"))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			c.message(w, r, sess, http.StatusNotFound, "Not found", "The object does not exist, or its bucket is not yours.")
			return
		}
		c.render(w, http.StatusInternalServerError, "message", page{Title: "Error", Session: sess, Error: c.shownError(r, err), Data: ""})
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(q.Get("key"))))
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	if _, err := io.Copy(w, body); err != nil {
		c.logger.WarnContext(r.Context(), "console download ended early", "bucket", q.Get("bucket"), "err", fmt.Errorf("copy: %w", err))
	}
}
