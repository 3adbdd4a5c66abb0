;; infinite-loop: never returns. The runtime must stop it at the wall-time limit and keep serving.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (br $forever))))
