// The importing file's folder is on sys.path: a .py can import its siblings.
import { shout } from "./pkg_user.py";
console.log(shout("hello"));
