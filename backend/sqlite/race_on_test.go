//go:build race

package sqlite

// raceEnabled scales the heavier tests down: the race detector slows the transpiled SQLite
// about twentyfold.
const raceEnabled = true
