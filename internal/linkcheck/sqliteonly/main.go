// Command sqliteonly is the smallest program that runs jobs on SQLite. It exists so that a test
// can check, with go list -deps, which stores such a program links.
package main

import (
	"context"
	"log"

	"github.com/asyncmq/asyncmq"
	_ "github.com/asyncmq/asyncmq/backend/sqlite"
)

func main() {
	s, err := asyncmq.Open(context.Background(), "sqlite://linkcheck.db")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := asyncmq.NewClient(s).Enqueue(context.Background(), "noop", nil); err != nil {
		log.Fatal(err)
	}
}
