package backend

import (
	"encoding/json"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// DecodeAttemptErrors decodes the JSON array of attempt errors a SQL store keeps in one column of
// job id's row, with every time in UTC. A nil column decodes to nil.
func DecodeAttemptErrors(id string, raw []byte) ([]asyncmqtype.AttemptError, error) {
	if raw == nil {
		return nil, nil
	}
	var errs []asyncmqtype.AttemptError
	if err := json.Unmarshal(raw, &errs); err != nil {
		return nil, fmt.Errorf("decode errors of job %q: %w", id, err)
	}
	for i := range errs {
		errs[i].At = errs[i].At.UTC()
	}
	return errs, nil
}

// EncodeHeaders encodes a job's headers as the JSON object every store keeps them as: nil when
// the job has none, so a store stores NULL (or nothing) rather than "{}".
func EncodeHeaders(h map[string]string) ([]byte, error) {
	if len(h) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode headers: %w", err)
	}
	return raw, nil
}

// DecodeHeaders decodes the headers EncodeHeaders made for job id's row. An empty column, "null"
// and "{}" decode to nil.
func DecodeHeaders(id string, raw []byte) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("decode headers of job %q: %w", id, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}
