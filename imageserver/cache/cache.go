// Package cache keeps encoded results in memory, bounded in bytes, and
// collapses identical requests in flight into one computation.
package cache

import (
	"container/list"
	"fmt"
	"sync"
)

// Entry is one cached result.
type Entry struct {
	Body        []byte
	ContentType string
}

func (e *Entry) size(key string) int64 {
	return int64(len(e.Body) + len(key) + len(e.ContentType) + 96)
}

// Cache is an LRU cache bounded by the bytes of its entries plus a group of
// computations in flight. It is safe for concurrent use.
type Cache struct {
	max int64
	wg  sync.WaitGroup // computations in flight

	mu     sync.Mutex
	bytes  int64
	lru    *list.List // of *item, most recent first
	items  map[string]*list.Element
	flight map[string]*call
}

type item struct {
	key string
	e   *Entry
}

// New returns a Cache holding at most maxBytes; 0 disables storing (requests
// in flight are still collapsed).
func New(maxBytes int64) (*Cache, error) {
	if maxBytes < 0 {
		return nil, fmt.Errorf("cache size must be 0 or more bytes, got %d", maxBytes)
	}
	return &Cache{max: maxBytes, lru: list.New(), items: map[string]*list.Element{}, flight: map[string]*call{}}, nil
}

// Get returns the entry for key, if cached.
func (c *Cache) Get(key string) (*Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*item).e, true
}

// Add stores an entry, evicting the least recently used ones to make room.
// Entries larger than an eighth of the cache are not stored.
func (c *Cache) Add(key string, e *Entry) {
	n := e.size(key)
	if n > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.bytes -= el.Value.(*item).e.size(key)
		c.lru.Remove(el)
	}
	c.items[key] = c.lru.PushFront(&item{key, e})
	c.bytes += n
	for c.bytes > c.max {
		last := c.lru.Back()
		it := last.Value.(*item)
		c.lru.Remove(last)
		delete(c.items, it.key)
		c.bytes -= it.e.size(it.key)
	}
}

// Bytes is the size of the cached entries.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Len is the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
