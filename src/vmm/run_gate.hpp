// Lets one thread change the VM with no vCPU inside KVM_RUN. Re-registering
// the memory slots (Domain::resync_shadow_page_tables) leaves a moment
// with no memory at all, and a vCPU running guest code then would fault
// on its own GDT, IDT or stack and shut down.
#pragma once

#include <condition_variable>
#include <mutex>

namespace xpv::vmm {

class RunGate {
 public:
  // Held around each KVM_RUN; waits while the world is stopped.
  class Running {
   public:
    explicit Running(RunGate& gate) : gate_(gate) { gate_.enter(); }
    ~Running() { gate_.leave(); }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;

   private:
    RunGate& gate_;
  };

  void enter() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !stopped_; });
    ++running_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    --running_;
    changed_.notify_all();
  }

  // Runs `change` once no vCPU is in KVM_RUN; `kick_all` makes those that
  // are leave it. The caller must not be between enter() and leave().
  template <typename Kick, typename Change>
  void stop_world(Kick&& kick_all, Change&& change) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !stopped_; });  // one stop at a time
    stopped_ = true;
    kick_all();
    changed_.wait(lock, [this] { return running_ == 0; });
    change();
    stopped_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  unsigned running_ = 0;
  bool stopped_ = false;
};

}  // namespace xpv::vmm
