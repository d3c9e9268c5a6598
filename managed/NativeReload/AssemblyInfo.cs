namespace NativeReload;
