#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

namespace iot::sink {

// Appends Elasticsearch bulk NDJSON to a local file, so the file can be replayed into
// Elasticsearch with a plain `_bulk` request. Each worker opens its own FileSink on the same
// path (shared-nothing): the file is opened O_APPEND and every append() is a single write(2)
// of whole lines, which Linux does not interleave with other appends to a regular file.
// "Stored" means handed to the kernel; sync() makes it durable (the collector calls it
// periodically and at shutdown).
class FileSink {
 public:
  // Creates missing parent directories; throws std::system_error naming the path on failure.
  explicit FileSink(const std::filesystem::path& path);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  // Writes `ndjson` (complete lines) at the end of the file. On error nothing may be assumed
  // stored: the caller must not acknowledge these events.
  std::error_code append(std::string_view ndjson);
  // fdatasync when something was appended since the last sync; nothing for a device or pipe.
  std::error_code sync();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool durable_ = false;  // a regular file: sync() has something to do
  bool dirty_ = false;
};

// Makes a sink file durable from a thread that does not write it: fdatasync applies to the file,
// whichever descriptor it is called on, so the workers never block on the disk.
class FileFlusher {
 public:
  // The file must exist; for anything but a regular file flush() does nothing.
  explicit FileFlusher(const std::filesystem::path& path);
  ~FileFlusher();
  FileFlusher(const FileFlusher&) = delete;
  FileFlusher& operator=(const FileFlusher&) = delete;
  std::error_code flush();

 private:
  int fd_ = -1;
};

}  // namespace iot::sink
