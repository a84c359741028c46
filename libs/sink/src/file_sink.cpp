#include "sink/file_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace iot::sink {

FileSink::FileSink(const std::filesystem::path& path) : path_(path) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw std::system_error(ec, "sink " + path.string() + ": cannot create directory");
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "sink " + path.string());
  // A device or pipe (/dev/stdout, /dev/null) has nothing to make durable, and fdatasync on it
  // fails with EINVAL: an error at every shutdown for a sink that lost nothing.
  struct stat status {};
  durable_ = ::fstat(fd_, &status) == 0 && S_ISREG(status.st_mode);
}

FileSink::~FileSink() {
  if (fd_ >= 0) {
    sync();
    ::close(fd_);
  }
}

std::error_code FileSink::append(std::string_view ndjson) {
  while (!ndjson.empty()) {
    const ssize_t written = ::write(fd_, ndjson.data(), ndjson.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return {errno, std::generic_category()};
    }
    // A short write to a regular file means the disk is full or a limit was hit; the next call
    // reports why. The tail may then sit torn at the end of the file, which replay tools skip.
    dirty_ = durable_;
    ndjson.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

std::error_code FileSink::sync() {
  if (!dirty_) return {};
  if (::fdatasync(fd_) != 0) return {errno, std::generic_category()};
  dirty_ = false;
  return {};
}

FileFlusher::FileFlusher(const std::filesystem::path& path) {
  // A device or pipe as the sink (/dev/stdout) has nothing to make durable.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "sink " + path.string());
}

FileFlusher::~FileFlusher() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code FileFlusher::flush() {
  if (fd_ < 0) return {};
  if (::fdatasync(fd_) != 0) return {errno, std::generic_category()};
  return {};
}

}  // namespace iot::sink
