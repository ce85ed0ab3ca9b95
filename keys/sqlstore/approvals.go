package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// Approval states.
const (
	ApprovalPending   = "PENDING"
	ApprovalExecuting = "EXECUTING" // approved; the operation is running
	ApprovalApproved  = "APPROVED"  // approved and carried out
	ApprovalFailed    = "FAILED"    // approved, but the operation failed
	ApprovalDenied    = "DENIED"
)

// Approval is an operation waiting for (or decided by) a second admin.
type Approval struct {
	ID, KeyName, Operation string
	// Description says what the operation will do (caller-safe).
	Description string
	// Payload is the operation's request, as the first admin sent it.
	Payload              []byte
	Requester            string
	CreatedAt, ExpiresAt time.Time
	State                string
	Approver             string
	DecidedAt            time.Time
	Result               string
}

// AddApproval stores a new pending approval.
func (s *Store) AddApproval(ctx context.Context, a *Approval) error {
	_, err := s.db.WriteExec(ctx, s.db.Rebind(`INSERT INTO key_approvals (id, key_name, operation, description, payload,
		requester, created_at, expires_at, state, approver, decided_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '')`),
		a.ID, a.KeyName, a.Operation, a.Description, string(a.Payload), a.Requester, a.CreatedAt.UnixNano(),
		a.ExpiresAt.UnixNano(), ApprovalPending)
	return storeErr(err)
}

const approvalCols = `id, key_name, operation, description, payload, requester, created_at, expires_at, state, approver, decided_at, result`

// GetApproval returns one approval, NotFound if there is none.
func (s *Store) GetApproval(ctx context.Context, id string) (*Approval, error) {
	a, err := scanApproval(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+approvalCols+` FROM key_approvals WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kgerr.Errorf(kgerr.NotFound, "no approval %q", id)
	}
	return a, storeErr(err)
}

// ListApprovals returns the approvals of key (all keys if empty), newest
// first, pending ones only unless all.
func (s *Store) ListApprovals(ctx context.Context, key string, all bool, limit int) ([]*Approval, error) {
	q := `SELECT ` + approvalCols + ` FROM key_approvals WHERE (? = '' OR key_name = ?) AND (? OR state = 'PENDING')
		ORDER BY created_at DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), key, key, all, limit)
	if err != nil {
		return nil, storeErr(err)
	}
	defer rows.Close()
	var out []*Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, storeErr(err)
		}
		out = append(out, a)
	}
	return out, storeErr(rows.Err())
}

// DecideApproval moves approval id from state `from` to `to` by
// compare-and-swap, recording who decided and the result: of two admins
// approving at once, one wins and the operation runs exactly once.
func (s *Store) DecideApproval(ctx context.Context, id, from, to, approver, result string, at time.Time) error {
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`UPDATE key_approvals SET state = ?, approver = ?, decided_at = ?, result = ?
		WHERE id = ? AND state = ?`), to, approver, at.UnixNano(), result, id, from)
	if err != nil {
		return storeErr(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		a, err := s.GetApproval(ctx, id)
		if err != nil {
			return err
		}
		return kgerr.Errorf(kgerr.FailedPrecondition, "approval %s is %s", id, a.State)
	}
	return nil
}

func scanApproval(row interface{ Scan(...any) error }) (*Approval, error) {
	var (
		a                         Approval
		payload                   string
		created, expires, decided int64
	)
	if err := row.Scan(&a.ID, &a.KeyName, &a.Operation, &a.Description, &payload, &a.Requester, &created, &expires,
		&a.State, &a.Approver, &decided, &a.Result); err != nil {
		return nil, err
	}
	a.Payload = []byte(payload)
	a.CreatedAt, a.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	if decided != 0 {
		a.DecidedAt = time.Unix(0, decided).UTC()
	}
	return &a, nil
}
