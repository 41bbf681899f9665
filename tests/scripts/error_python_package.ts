import missing from "python:no_such_package_xyz";
console.log(missing);
