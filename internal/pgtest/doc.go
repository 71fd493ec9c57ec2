// Package pgtest gives tests a real PostgreSQL: New connects to
// SFBRIDGE_TEST_DATABASE_URL (default DefaultURL, the server of the
// project's machines) and creates a schema unique to the test, dropped with
// everything in it when the test ends, so tests run in parallel without
// seeing each other's tables. When the server cannot be reached the test
// fails with a message saying to run scripts/services.sh.
//
// It is for tests only: nothing outside _test.go files imports it.
package pgtest
