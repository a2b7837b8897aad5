"""Tests in a real browser against a real Home Assistant (its frontend) and real peers."""
