package evidence

import "errors"

// Sentinel errors; web maps each to one HTTP status in its statusRules
// (event.ErrInvalidEvent, the 400 of a bad event, is event's).
var (
	// ErrIDConflict: an id was already used by this tenant for a different
	// event (409). Retrying the same event returns the first receipt.
	ErrIDConflict = errors.New("event id already used for a different event")
	// ErrNotFound: no such contract, subject or document for this tenant
	// (404). Another tenant's contract is reported exactly like an absent one.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: missing or unknown API key (401).
	ErrUnauthorized = errors.New("missing or unknown API key")
	// ErrForbidden: the key lacks the role the operation needs (403).
	ErrForbidden = errors.New("API key lacks the role for this operation")
	// ErrErased: the sealed fields were destroyed by an erasure (410 where
	// served; reports show the fields as erased with the date).
	ErrErased = errors.New("personal data erased")
	// ErrInvalidDocument: a document body does not match its SHA-256 or is
	// empty (400).
	ErrInvalidDocument = errors.New("invalid document")
	// ErrInvalidQuery: a search or path parameter is malformed (400).
	ErrInvalidQuery = errors.New("invalid query")
	// ErrTenantExists: a tenant with that name exists (CLI).
	ErrTenantExists = errors.New("tenant exists")
	// ErrTenantNotFound: no tenant with that name or ID (CLI).
	ErrTenantNotFound = errors.New("tenant not found")
	// ErrUnavailable: the evidence store cannot be reached or refuses
	// (cluster mode: PostgreSQL down, unreachable or overloaded) (503).
	// Nothing of the request was written; retry later.
	ErrUnavailable = errors.New("evidence store unavailable")
	// ErrInvalidTenant: bad tenant name or role (CLI).
	ErrInvalidTenant = errors.New("invalid tenant")
)
