package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.message(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	sess, ok := c.sessions.signIn(r.PostForm.Get("access_key_id"), r.PostForm.Get("secret_access_key"))
	if !ok {
		c.logger.InfoContext(r.Context(), "console sign-in refused")
		c.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in",
			Error: &export.Error{Code: "SignInFailed", Message: "The access key ID or the secret access key is not valid."},
			Data:  r.PostForm.Get("access_key_id")})
		return
	}
	c.logger.InfoContext(r.Context(), "console sign-in", "access_key_id", sess.AccessKeyID, "account_id", sess.AccountID)
	http.SetCookie(w, c.sessions.cookie(r, sess))
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	c.sessions.signOut(sess)
	http.SetCookie(w, clearCookie(r))
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// startExport is StartExportTask with the form's values. On success the
// browser goes to the new export's page; on failure the dashboard shows
// the service's error above the form, which keeps what was typed.
func (c *Console) startExport(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	form := exportForm{
		Identifier: strings.TrimSpace(f.Get("identifier")), Source: strings.TrimSpace(f.Get("source")),
		ExportOnly: f.Get("export_only"), Bucket: strings.TrimSpace(f.Get("bucket")), Prefix: strings.TrimSpace(f.Get("prefix")),
		IamRole: strings.TrimSpace(f.Get("iam_role")), KmsKey: strings.TrimSpace(f.Get("kms_key")),
	}
	in := service.StartExportTaskInput{
		ExportTaskIdentifier: form.Identifier, SourceArn: form.Source, S3BucketName: form.Bucket,
		IamRoleArn: form.IamRole, KmsKeyId: form.KmsKey, ExportOnly: splitList(form.ExportOnly),
	}
	if form.Prefix != "" {
		in.S3Prefix = &form.Prefix
	}
	t, err := c.p.Service.StartExportTask(r.Context(), in)
	if err != nil {
		d := c.defaultForms(sess)
		d.Export = form
		c.renderDashboard(w, r, sess, errorStatus(err), err, d)
		return
	}
	http.Redirect(w, r, "/console/exports/"+url.PathEscape(t.Identifier), http.StatusSeeOther)
}

// cancelExport is CancelExportTask; the browser goes back to where the
// button was.
func (c *Console) cancelExport(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	if _, err := c.p.Service.CancelExportTask(r.Context(), id); err != nil {
		c.renderDashboard(w, r, sess, errorStatus(err), err, c.defaultForms(sess))
		return
	}
	http.Redirect(w, r, back(r, "/console/exports/"+url.PathEscape(id)), http.StatusSeeOther)
}

// createSnapshot is CreateDBClusterSnapshot or CreateDBSnapshot, by the
// kind of source chosen.
func (c *Console) createSnapshot(w http.ResponseWriter, r *http.Request, sess *session) {
	form := snapshotForm{Identifier: strings.TrimSpace(r.PostForm.Get("identifier")), Source: r.PostForm.Get("source")}
	kind, source, _ := strings.Cut(form.Source, ":")
	var err error
	switch kind {
	case "cluster":
		_, err = c.p.Service.CreateDBClusterSnapshot(r.Context(), service.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: form.Identifier, DBClusterIdentifier: source})
	case "instance":
		_, err = c.p.Service.CreateDBSnapshot(r.Context(), service.CreateDBSnapshotInput{
			DBSnapshotIdentifier: form.Identifier, DBInstanceIdentifier: source})
	default:
		err = export.Errorf(export.CodeMissingParameter, "Choose the DB cluster or DB instance to take the snapshot of.")
	}
	if err != nil {
		d := c.defaultForms(sess)
		d.Snapshot = form
		c.renderDashboard(w, r, sess, errorStatus(err), err, d)
		return
	}
	http.Redirect(w, r, "/console/#snapshots", http.StatusSeeOther)
}

// deleteSnapshot is DeleteDBClusterSnapshot or DeleteDBSnapshot.
func (c *Console) deleteSnapshot(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	var err error
	switch export.SnapshotKind(r.PathValue("kind")) {
	case export.SnapshotKindCluster:
		_, err = c.p.Service.DeleteDBClusterSnapshot(r.Context(), id)
	case export.SnapshotKindDB:
		_, err = c.p.Service.DeleteDBSnapshot(r.Context(), id)
	default:
		err = export.Errorf(export.CodeInvalidParameterValue, "Unknown snapshot kind.")
	}
	if err != nil {
		c.renderDashboard(w, r, sess, errorStatus(err), err, c.defaultForms(sess))
		return
	}
	http.Redirect(w, r, "/console/#snapshots", http.StatusSeeOther)
}

// errorStatus is the HTTP status of a page showing err: 400 for an
// *export.Error (the person can fix the input), 500 otherwise.
func errorStatus(err error) int {
	if export.ErrorCode(err) == export.CodeInternalFailure {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// back is the form's "back" value when it is a console path, else def:
// never a redirect off the console.
func back(r *http.Request, def string) string {
	b := r.PostForm.Get("back")
	if strings.HasPrefix(b, "/console/") && !strings.HasPrefix(b, "//") && !strings.ContainsAny(b, "\\\r\n") {
		return b
	}
	return def
}
