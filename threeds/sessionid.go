package threeds

import "github.com/keygate/keygate/internal/kgerr"

// SessionIDLen is the length of a session id: 128 random bits as unpadded
// base64url (newSessionID).
const SessionIDLen = 22

// CheckSessionID is the one check of a caller's session id, made before the
// id is used anywhere (store, audit detail): exactly SessionIDLen
// characters of the base64url alphabet.
func CheckSessionID(id string) error {
	if len(id) != SessionIDLen {
		return kgerr.Errorf(kgerr.InvalidArgument, "session_id must be %d characters of base64url", SessionIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return kgerr.Errorf(kgerr.InvalidArgument, "session_id must be %d characters of base64url", SessionIDLen)
		}
	}
	return nil
}
