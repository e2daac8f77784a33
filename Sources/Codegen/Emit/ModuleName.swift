/// Module names end up in file names in the kernel cache: letters, digits, `-`, `_` and `.` only.
public enum ModuleName {
  public static func sanitized(_ title: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    let name = String(title.split(separator: "/").last.map(String.init)?.map { allowed.contains($0) ? $0 : "-" } ?? [])
    return name.isEmpty ? "model" : String(name.prefix(64))
  }
}
