package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// slogAdapter sends go-redis's own messages (failed dials while Redis is down, reconnects) to
// slog at debug level instead of the standard logger; the store reports what matters to the
// caller through errors and its WithLogger logger.
type slogAdapter struct{}

func (slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

func init() { goredis.SetLogger(slogAdapter{}) }
