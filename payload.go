package asyncmq

import (
	"encoding/json"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// DefaultMaxPayloadBytes is the default limit on the JSON size of a payload or a result: 1 MiB.
const DefaultMaxPayloadBytes = 1 << 20

// encodePayload turns a payload into the JSON stored with the job. json.RawMessage and []byte are
// taken as already-encoded JSON and only validated, so callers that hold JSON do not pay for a
// round trip; nil stores no payload; anything else goes through json.Marshal. limit <= 0 means no
// limit.
func encodePayload(v any, limit int) (json.RawMessage, error) {
	var raw []byte
	encoded := false
	switch p := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw, encoded = p, true
	case []byte:
		raw, encoded = p, true
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode payload %T as JSON: %w", v, err)
		}
		raw = b
	}
	if limit > 0 && len(raw) > limit {
		return nil, fmt.Errorf("payload is %d bytes, limit %d: %w", len(raw), limit, ErrPayloadTooLarge)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if encoded {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("payload of %d bytes is not valid JSON: %w", len(raw), asyncmqtype.ErrInvalid)
		}
		// Copy: the caller may reuse its buffer once Enqueue returns.
		raw = append([]byte(nil), raw...)
	}
	return raw, nil
}
